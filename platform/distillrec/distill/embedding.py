"""Collaborative embedding distillation: a learned projection of the teacher's item embeddings,
added (times ``ed_weight``) to the student's own input embeddings."""

from __future__ import annotations

from typing import Literal

import numpy as np
import torch
from torch import nn

Projection = Literal["linear", "mlp"]


class TeacherEmbeddingFusion(nn.Module):
    """``history [B, L] -> ed_weight * project(teacher_embedding[history]) [B, L, H]``.

    The teacher table (any dimension ``d``) is a frozen buffer with an extra all-zero row for the
    padding id; the output at padding positions is exactly zero (the projection's bias included).
    """

    def __init__(
        self,
        teacher_embeddings: np.ndarray | torch.Tensor,
        hidden_size: int,
        ed_weight: float,
        projection: Projection = "linear",
    ) -> None:
        super().__init__()
        table = torch.as_tensor(np.asarray(teacher_embeddings), dtype=torch.float32)
        if table.dim() != 2:
            raise ValueError(f"teacher embeddings must be [num_items, d], got {tuple(table.shape)}")
        num_items, dim = table.shape
        padded = torch.cat([table, table.new_zeros(1, dim)], dim=0)  # [N + 1, d]
        self.register_buffer("table", padded, persistent=False)
        self.padding_id = num_items
        self.ed_weight = float(ed_weight)
        if projection == "linear":
            self.project: nn.Module = nn.Linear(dim, hidden_size)
        elif projection == "mlp":
            self.project = nn.Sequential(
                nn.Linear(dim, hidden_size), nn.ReLU(), nn.Linear(hidden_size, hidden_size)
            )
        else:
            raise ValueError(f"unknown ed_projection {projection!r}; valid: linear, mlp")

    def forward(self, history: torch.Tensor) -> torch.Tensor:
        unique, inverse = history.unique(return_inverse=True)  # project each item once
        projected = self.project(self.table[unique])[inverse]  # [B, L, H]
        keep = history.ne(self.padding_id).unsqueeze(-1).to(projected.dtype)
        return self.ed_weight * projected * keep

"""Caser (Tang and Wang, WSDM 2018) as in the DLLM2Rec reference code."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn
from torch.nn import functional as F

from distillrec.students.base import SequentialRecommender


class Caser(SequentialRecommender):
    """Convolutional sequence embedding: horizontal filters (heights ``filter_sizes``, max-pooled
    over time) and one vertical filter over the whole history, concatenated, dropout, linear head.

    The history is treated as a ``max_history x hidden`` image with padding rows zeroed.
    """

    def __init__(
        self,
        num_items: int,
        max_history: int,
        hidden_size: int = 64,
        dropout: float = 0.1,
        num_filters: int = 16,
        filter_sizes: Sequence[int] = (2, 3, 4),
    ) -> None:
        super().__init__(num_items, max_history, hidden_size)
        self.filter_sizes = [int(size) for size in filter_sizes]
        if max(self.filter_sizes) > max_history:
            raise ValueError(
                f"Caser filter height {max(self.filter_sizes)} exceeds max_history {max_history}"
            )
        self.horizontal = nn.ModuleList(
            nn.Conv2d(1, num_filters, (size, hidden_size)) for size in self.filter_sizes
        )
        self.vertical = nn.Conv2d(1, 1, (max_history, 1))
        for conv in [*self.horizontal, self.vertical]:
            nn.init.xavier_normal_(conv.weight)
            nn.init.constant_(conv.bias, 0.1)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(hidden_size + num_filters * len(self.filter_sizes), num_items)

    def score(self, history: torch.Tensor, history_len: torch.Tensor) -> torch.Tensor:
        image = (self.embed_history(history) * self.padding_mask(history)).unsqueeze(1)  # [B,1,L,H]
        pooled = []
        for conv in self.horizontal:
            out = F.relu(conv(image)).squeeze(3)  # [B, F, L - h + 1]
            pooled.append(out.amax(dim=2))  # [B, F]
        vertical = F.relu(self.vertical(image)).flatten(1)  # [B, H]
        hidden = self.dropout(torch.cat([*pooled, vertical], dim=1))
        return self.head(hidden)  # [B, N]

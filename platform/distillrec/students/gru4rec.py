"""GRU4Rec (Hidasi et al., ICLR 2016) as in the DLLM2Rec reference code."""

from __future__ import annotations

import torch
from torch import nn

from distillrec.students.base import SequentialRecommender, gather_last


class GRU4Rec(SequentialRecommender):
    """Item embedding -> GRU -> hidden state at the last real item -> linear head over all items.

    The reference packs the padded sequence; with right padding, running the GRU over the full
    padded sequence and reading the state at ``history_len - 1`` gives the same hidden state and
    is faster on CPU. Like the reference, GRU4Rec uses no dropout (``dropout`` is accepted so that
    every student shares one constructor signature).
    """

    def __init__(
        self,
        num_items: int,
        max_history: int,
        hidden_size: int = 64,
        dropout: float = 0.1,
        num_layers: int = 1,
    ) -> None:
        super().__init__(num_items, max_history, hidden_size)
        self.gru = nn.GRU(hidden_size, hidden_size, num_layers=num_layers, batch_first=True)
        self.head = nn.Linear(hidden_size, num_items)

    def score(self, history: torch.Tensor, history_len: torch.Tensor) -> torch.Tensor:
        emb = self.embed_history(history)  # [B, L, H]
        states, _ = self.gru(emb)  # [B, L, H]
        return self.head(gather_last(states, history_len))  # [B, N]

"""The one interface every student implements: scores for all items given a padded history.

Histories are right-padded: ``history[b, :history_len[b]]`` are item ids (oldest first) and the
rest is ``padding_id == num_items`` (the layout of the DLLM2Rec reference code). A student owns an
item-embedding table with one extra row for the padding id and a linear head that scores every item.

Collaborative embedding distillation plugs in through :meth:`attach_teacher_fusion`: a module that
maps ``history`` to an additive offset for the input embeddings. :meth:`fold_teacher_fusion`
bakes that offset into the embedding table after training, so a packaged student never needs the
teacher's (large) embedding table.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar

import torch
from torch import nn


class SequentialRecommender(nn.Module, ABC):
    """Base class: ``forward(history [B, L], history_len [B]) -> scores [B, num_items]``."""

    #: False for baselines that are fitted from counts instead of trained by gradient descent.
    trainable: ClassVar[bool] = True

    def __init__(self, num_items: int, max_history: int, hidden_size: int = 64) -> None:
        super().__init__()
        if num_items < 1 or max_history < 1 or hidden_size < 1:
            raise ValueError("num_items, max_history and hidden_size must be positive")
        self.num_items = int(num_items)
        self.max_history = int(max_history)
        self.hidden_size = int(hidden_size)
        self.item_embeddings = nn.Embedding(self.num_items + 1, self.hidden_size)
        nn.init.normal_(self.item_embeddings.weight, 0.0, 0.01)
        self.teacher_fusion: nn.Module | None = None

    @property
    def padding_id(self) -> int:
        return self.num_items

    def attach_teacher_fusion(self, fusion: nn.Module) -> None:
        """Add ``fusion(history) -> [B, L, hidden]`` to the input embeddings (ED distillation)."""
        self.teacher_fusion = fusion

    @torch.no_grad()
    def fold_teacher_fusion(self) -> None:
        """Bake the (now fixed) teacher offset into the embedding table and drop the fusion module.

        Scores are unchanged: the offset depends only on the item id, so ``emb(i) + offset(i)``
        can be stored as the new ``emb(i)`` (the padding row gets offset zero).
        """
        if self.teacher_fusion is None:
            return
        ids = torch.arange(self.num_items + 1, device=self.item_embeddings.weight.device)
        offset = self.teacher_fusion(ids.unsqueeze(0)).squeeze(0)  # [N + 1, H]
        self.item_embeddings.weight.add_(offset)
        self.teacher_fusion = None

    def embed_history(self, history: torch.Tensor) -> torch.Tensor:
        """``[B, L]`` ids -> ``[B, L, H]`` input embeddings (own + fused teacher offset)."""
        emb = self.item_embeddings(history)
        if self.teacher_fusion is not None:
            emb = emb + self.teacher_fusion(history)
        return emb

    def padding_mask(self, history: torch.Tensor) -> torch.Tensor:
        """``[B, L, 1]`` float mask: 1 for real items, 0 for padding."""
        return history.ne(self.padding_id).unsqueeze(-1).to(self.item_embeddings.weight.dtype)

    def fit_length(self, history: torch.Tensor) -> torch.Tensor:
        """Right-pad ``[B, L]`` to ``[B, max_history]``; longer inputs are a caller bug."""
        length = history.shape[1]
        if length > self.max_history:
            raise ValueError(f"history has {length} positions, the model takes {self.max_history}")
        if length < self.max_history:
            pad = history.new_full((history.shape[0], self.max_history - length), self.padding_id)
            history = torch.cat([history, pad], dim=1)
        return history

    def forward(self, history: torch.Tensor, history_len: torch.Tensor) -> torch.Tensor:
        """Scores for every item: ``[B, L]``, ``[B]`` -> ``[B, num_items]``."""
        history = self.fit_length(history)
        history_len = history_len.clamp(min=1, max=self.max_history)
        return self.score(history, history_len)

    @abstractmethod
    def score(self, history: torch.Tensor, history_len: torch.Tensor) -> torch.Tensor:
        """Encode ``[B, max_history]`` histories and score all items: ``-> [B, num_items]``."""


def gather_last(states: torch.Tensor, history_len: torch.Tensor) -> torch.Tensor:
    """The hidden state at the last real position: ``[B, L, H]``, ``[B]`` -> ``[B, H]``."""
    index = (history_len - 1).view(-1, 1, 1).expand(-1, 1, states.shape[-1])
    return states.gather(1, index).squeeze(1)

"""The popularity baseline: every history gets the same ranking, most frequent training targets
first. A sanity floor that every trained student must clear by a wide margin."""

from __future__ import annotations

import numpy as np
import torch

from distillrec.students.base import SequentialRecommender


class Popularity(SequentialRecommender):
    """Scores are ``log(1 + count)`` of each item as a training target (fitted, not trained)."""

    trainable = False

    def __init__(
        self, num_items: int, max_history: int, hidden_size: int = 1, dropout: float = 0.0
    ) -> None:
        super().__init__(num_items, max_history, hidden_size=1)
        self.register_buffer("popularity", torch.zeros(num_items))

    def fit_counts(self, targets: np.ndarray) -> Popularity:
        """Count training targets (``[n]`` item ids) into the score vector."""
        counts = np.bincount(np.asarray(targets, dtype=np.int64), minlength=self.num_items)
        self.popularity.copy_(torch.from_numpy(np.log1p(counts[: self.num_items])).float())
        return self

    def score(self, history: torch.Tensor, history_len: torch.Tensor) -> torch.Tensor:
        return self.popularity.unsqueeze(0).expand(history.shape[0], -1).clone()  # [B, N]

"""Examples as tensors: right-padded histories, negative sampling, teacher alignment by id."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from distillrec.distill.objective import TeacherTargets
from distillrec.errors import UserError
from distillrec.teacher.artifact import ranked_mask


def pad_histories(histories, max_history: int, padding_id: int) -> np.ndarray:
    """Lists of item ids (oldest first) -> ``[n, max_history]`` int64, right-padded with
    ``padding_id``; longer histories keep their last ``max_history`` items."""
    lists = [np.asarray(h, dtype=np.int64)[-max_history:] for h in histories]
    out = np.full((len(lists), max_history), padding_id, dtype=np.int64)
    if not lists:
        return out
    lengths = np.fromiter((len(h) for h in lists), dtype=np.int64, count=len(lists))
    flat = np.concatenate(lists) if lengths.sum() else np.zeros(0, np.int64)
    rows = np.repeat(np.arange(len(lists)), lengths)
    cols = np.arange(len(flat)) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    out[rows, cols] = flat
    return out


@dataclass
class ExampleTensors:
    """One split as tensors: ``history [n, L]``, ``history_len [n]``, ``target [n]`` and
    ``example_id [n]``."""

    history: torch.Tensor
    history_len: torch.Tensor
    target: torch.Tensor
    example_id: np.ndarray

    def __len__(self) -> int:
        return int(self.target.shape[0])

    @classmethod
    def from_frame(cls, frame: pd.DataFrame, max_history: int, padding_id: int) -> ExampleTensors:
        history = pad_histories(frame["history"], max_history, padding_id)
        lengths = np.minimum(frame["history_len"].to_numpy(dtype=np.int64), max_history)
        return cls(
            history=torch.from_numpy(history),
            history_len=torch.from_numpy(np.maximum(lengths, 1)),
            target=torch.from_numpy(frame["next_item"].to_numpy(dtype=np.int64).copy()),
            example_id=frame["example_id"].to_numpy(dtype=np.int64),
        )


def sample_negatives(
    history: torch.Tensor, target: torch.Tensor, num_items: int, generator: torch.Generator
) -> torch.Tensor:
    """One uniform negative per example, never the target nor an item of the history: ``[B]``.

    Rejection sampling, vectorised: redraw only the rows that collided (a few rounds at most).
    """
    negative = torch.randint(0, num_items, target.shape, generator=generator)
    for _ in range(1000):
        bad = negative.eq(target) | history.eq(negative.unsqueeze(1)).any(dim=1)
        if not bad.any():
            return negative
        negative[bad] = torch.randint(0, num_items, (int(bad.sum()),), generator=generator)
    raise ValueError("could not sample negatives: some history covers (almost) every item")


def align_teacher(
    train_ids: np.ndarray, teacher_ids: np.ndarray, items: np.ndarray, distances: np.ndarray
) -> TeacherTargets:
    """Match teacher rankings to training examples by ``example_id``; ids of other splits are
    ignored, and an artifact that covers no training example is a :class:`UserError`."""
    n, k = len(train_ids), items.shape[1]
    covered = ranked_mask(train_ids, teacher_ids)
    if n and not covered.any():
        raise UserError(
            "teacher artifact: none of its example_ids is a training example of this dataset"
        )
    out_items = np.zeros((n, k), dtype=np.int64)
    out_dist = np.zeros((n, k), dtype=np.float32)
    order = np.argsort(teacher_ids, kind="stable")
    source = order[np.searchsorted(teacher_ids[order], train_ids[covered])]
    out_items[covered] = items[source]
    out_dist[covered] = distances[source]
    return TeacherTargets(
        items=torch.from_numpy(out_items),
        distances=torch.from_numpy(out_dist),
        covered=torch.from_numpy(covered),
    )

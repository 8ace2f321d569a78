"""Padding, negative sampling, teacher alignment and ranking metrics against hand-made values."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from distillrec.errors import UserError
from distillrec.ranking_metrics import metrics_from_ranks
from distillrec.training.batches import align_teacher, pad_histories, sample_negatives
from distillrec.training.metrics import target_ranks


def test_pad_histories_right_pads_and_keeps_the_last_items():
    out = pad_histories([[1, 2], [3, 4, 5, 6], [7]], max_history=3, padding_id=9)
    assert out.tolist() == [[1, 2, 9], [4, 5, 6], [7, 9, 9]]


def test_negatives_are_never_the_target_or_in_the_history():
    gen = torch.Generator().manual_seed(0)
    history = torch.tensor([[0, 1, 2, 6], [3, 4, 6, 6]] * 200)  # 6 = padding, 6 items
    target = torch.tensor([3, 5] * 200)
    neg = sample_negatives(history, target, 6, gen)
    assert set(neg[0::2].tolist()) <= {4, 5} and set(neg[1::2].tolist()) <= {0, 1, 2}
    assert set(neg[0::2].tolist()) == {4, 5}  # uniform over what is allowed


def test_align_teacher_by_example_id_with_partial_coverage():
    aligned = align_teacher(
        train_ids=np.array([10, 11, 12]),
        teacher_ids=np.array([12, 99, 10]),
        items=np.array([[1, 2], [3, 4], [5, 6]]),
        distances=np.array([[0.1, 0.2], [0.3, 0.4], [0.5, 0.6]], dtype=np.float32),
    )
    assert aligned.covered.tolist() == [True, False, True]
    assert aligned.items.tolist() == [[5, 6], [0, 0], [1, 2]]
    assert aligned.covered.float().mean().item() == pytest.approx(2 / 3)
    with pytest.raises(UserError, match="none of its example_ids"):
        align_teacher(np.array([1]), np.array([2]), np.array([[1]]), np.array([[0.0]]))


def test_ranks_break_ties_by_item_id_and_metrics_by_hand():
    scores = torch.tensor([[0.5, 0.9, 0.5, 0.1], [1.0, 1.0, 1.0, 1.0]])
    assert target_ranks(scores, torch.tensor([2, 3])).tolist() == [2, 3]
    m = metrics_from_ranks(torch.tensor([0, 3, 25]))
    assert m["hr@1"] == pytest.approx(1 / 3) and m["hr@5"] == pytest.approx(2 / 3)
    assert m["ndcg@5"] == pytest.approx((1 + 1 / math.log2(5)) / 3)
    assert m["hr@20"] == pytest.approx(2 / 3) and set(m) == {
        f"{k}@{c}" for k in ("hr", "ndcg") for c in (1, 5, 10, 20)
    }

"""HR@k and NDCG@k have one source (``distillrec.ranking_metrics``): the students' evaluation,
the per-example values of a study, the teacher's evaluation and the report floors all use it,
and agree with values computed by hand, ties and non-finite scores included."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch

from distillrec import ranking_metrics


def gain(rank: int) -> float:
    return 1.0 / math.log2(rank + 2)


def test_every_hr_and_ndcg_of_the_package_is_the_one_function() -> None:
    from distillrec.study import report
    from distillrec.teacher import evaluation, quality
    from distillrec.training import metrics

    assert metrics.metrics_from_ranks is ranking_metrics.metrics_from_ranks
    assert evaluation.metrics_from_ranks is ranking_metrics.metrics_from_ranks
    assert quality.metrics_from_ranks is ranking_metrics.metrics_from_ranks
    assert report.per_example_metric is ranking_metrics.per_example_metric
    assert evaluation.CUTOFFS == ranking_metrics.CUTOFFS  # teachers and students, same cutoffs


def test_students_evaluation_by_hand_with_ties_and_non_finite_scores() -> None:
    from distillrec.training.metrics import target_ranks

    scores = torch.tensor(
        [
            [0.5, 0.9, 0.5, 0.1, 0.0],  # target 2: one higher, one tie with a lower id -> rank 2
            [1.0, 1.0, 1.0, 1.0, 1.0],  # constant scorer, target 0: the tie breaks by id -> 0
            [0.1, float("nan"), 0.9, 0.2, 0.3],  # a NaN anywhere: ranked last (5), a miss
            [0.0, 0.1, 0.2, 0.3, 0.4],  # target 0 is the lowest: rank 4
        ]
    )
    ranks = target_ranks(scores, torch.tensor([2, 0, 2, 0]))
    assert ranks.tolist() == [2, 0, 5, 4]
    m = ranking_metrics.metrics_from_ranks(ranks, cutoffs=(1, 3, 5))
    assert m == pytest.approx(
        {
            "hr@1": 1 / 4,
            "ndcg@1": 1 / 4,
            "hr@3": 2 / 4,
            "ndcg@3": (gain(2) + 1.0) / 4,
            "hr@5": 3 / 4,
            "ndcg@5": (gain(2) + 1.0 + gain(4)) / 4,
        }
    )
    assert list(m) == ["hr@1", "ndcg@1", "hr@3", "ndcg@3", "hr@5", "ndcg@5"]
    per = ranking_metrics.per_example_metric(ranks, "ndcg@5")
    assert per.tolist() == pytest.approx([gain(2), 1.0, 0.0, gain(4)])
    assert per.mean() == pytest.approx(m["ndcg@5"])
    assert ranking_metrics.per_example_metric(ranks.numpy(), "hr@3").tolist() == [1, 1, 0, 0]
    assert ranking_metrics.metrics_from_ranks([]) == {
        f"{name}@{k}": 0.0 for k in ranking_metrics.CUTOFFS for name in ("hr", "ndcg")
    }


def test_a_rank_that_is_not_finite_is_a_miss_and_a_negative_one_an_error() -> None:
    """Before, the students' ``metrics_from_ranks`` turned a NaN rank into a NaN NDCG."""
    m = ranking_metrics.metrics_from_ranks(np.array([0.0, np.nan, np.inf]), cutoffs=(1, 20))
    assert m == pytest.approx({"hr@1": 1 / 3, "ndcg@1": 1 / 3, "hr@20": 1 / 3, "ndcg@20": 1 / 3})
    with pytest.raises(ValueError, match="0-based"):
        ranking_metrics.metrics_from_ranks(np.array([0, -1]))
    with pytest.raises(ValueError, match="unknown metric"):
        ranking_metrics.per_example_metric(np.array([0]), "mrr@10")


def test_teacher_evaluation_by_hand_absent_targets_miss_at_every_cutoff() -> None:
    from distillrec.teacher.evaluation import evaluate_rankings, hit_ranks
    from distillrec.teacher.evaluation import ranking_metrics as rm

    rankings = pd.DataFrame(
        {"example_id": [1, 2, 3, 4], "items": [[5, 1, 2], [3, 4, 9], [7, 8, 6], [0, 2, 1]]}
    )
    examples = pd.DataFrame({"example_id": [1, 2, 3, 4, 5], "next_item": [5, 9, 0, 1, 2]})
    assert hit_ranks(rankings["items"], [5, 9, 0, 1]).tolist() == [0, 2, -1, 2]
    m = evaluate_rankings(rankings, examples, cutoffs=(1, 2, 20))  # example 5: not ranked, left out
    assert m == pytest.approx(
        {
            "hr@1": 1 / 4,
            "ndcg@1": 1 / 4,
            "hr@2": 1 / 4,
            "ndcg@2": 1 / 4,
            "hr@20": 3 / 4,  # cutoff beyond the top-3: the absent target is still a miss
            "ndcg@20": (1 + 2 * gain(2)) / 4,
            "num_examples": 4.0,
        }
    )
    assert rm(np.array([-1, -1]), cutoffs=(20,)) == {"hr@20": 0.0, "ndcg@20": 0.0}


def test_report_floors_by_hand() -> None:
    from distillrec.teacher.quality import popularity_metrics, random_expectation

    # a random ranking of 5 items: the target is at each rank 0..4 with probability 1/5
    assert random_expectation(5, 3) == pytest.approx(
        {"hr@3": 3 / 5, "ndcg@3": (1 + gain(1) + gain(2)) / 5}
    )
    assert random_expectation(3) == pytest.approx(
        {"hr@20": 1.0, "ndcg@20": (1 + gain(1) + gain(2)) / 3}
    )
    # popularity: counts 0:1, 1:3, 2:1, 3:0 -> order 1, 0, 2, 3 (ties by the lower id)
    rows = pd.DataFrame({"next_item": [1, 2, 3, 0]})
    got = popularity_metrics(np.array([1, 1, 1, 0, 2]), rows, num_items=4)
    assert got == pytest.approx({"hr@20": 1.0, "ndcg@20": (1 + gain(2) + gain(3) + gain(1)) / 4})

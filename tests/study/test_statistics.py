"""Study statistics against independent values: hand formulas, normal theory, SciPy's own tests."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from distillrec.study.statistics import compare, paired_bootstrap_ci, seed_tests
from distillrec.training.metrics import metrics_from_ranks, per_example_metric


def test_per_example_metrics_average_to_the_split_metrics():
    import torch

    ranks = np.array([0, 3, 9, 10, 19, 20, 500])
    split = metrics_from_ranks(torch.from_numpy(ranks))
    assert per_example_metric(ranks, "hr@10").tolist() == [1, 1, 1, 0, 0, 0, 0]
    ndcg = per_example_metric(ranks, "ndcg@20")
    assert ndcg[1] == pytest.approx(1 / math.log2(5))
    assert ndcg[5] == 0.0
    for metric in ("hr@10", "hr@20", "ndcg@10", "ndcg@20"):
        assert per_example_metric(ranks, metric).mean() == pytest.approx(split[metric])


def test_paired_ci_of_a_constant_difference_is_that_difference():
    base = np.array([0.1, 0.2, 0.3, 0.4])
    assert paired_bootstrap_ci(base, base + 0.05) == pytest.approx((0.05, 0.05))


def test_paired_ci_matches_normal_theory_on_a_large_sample():
    """Percentile bootstrap of a mean difference ~ mean ± 1.96 sd / sqrt(n) for large n."""
    rng = np.random.default_rng(1)
    base = rng.random(4000)
    var = base + rng.normal(0.02, 0.1, size=4000)
    diff = var - base
    half = 1.959964 * diff.std(ddof=1) / math.sqrt(len(diff))
    low, high = paired_bootstrap_ci(base, var, n_resamples=4000)
    assert low == pytest.approx(diff.mean() - half, abs=0.0008)
    assert high == pytest.approx(diff.mean() + half, abs=0.0008)


def test_pairing_matters():
    """Paired: a tiny consistent gain over very different examples is significant; the same
    values shuffled (pairs broken) would not be: the CI follows the per-example differences."""
    base = np.linspace(0.0, 1.0, 200)
    var = base + 0.01
    low, high = paired_bootstrap_ci(base, var)
    assert low == pytest.approx(0.01) and high == pytest.approx(0.01)
    noise = np.random.default_rng(0).normal(0, 0.001, 200)
    low, high = paired_bootstrap_ci(base, var + noise)
    assert 0.0 < low < 0.01 < high < 0.0105


def test_gain_ci_contains_the_point_gain():
    rng = np.random.default_rng(2)
    base = (rng.random(500) < 0.2).astype(float)
    var = np.where(rng.random(500) < 0.1, 1.0, base)
    low, high = paired_bootstrap_ci(base, var, "gain_pct")
    point = 100 * (var.mean() / base.mean() - 1)
    assert low < point < high


def test_seed_tests_against_hand_t_statistic_and_scipy_wilcoxon():
    base = np.array([0.100, 0.110, 0.105, 0.098])
    var = np.array([0.104, 0.113, 0.111, 0.097])
    d = var - base
    t = d.mean() / (d.std(ddof=1) / math.sqrt(len(d)))
    p_hand = 2 * stats.t.sf(abs(t), df=len(d) - 1)
    t_p, w_p = seed_tests(base, var)
    assert t_p == pytest.approx(p_hand, rel=1e-9)
    # exact Wilcoxon, n = 4: ranks of |d| = 3, 2, 4, 1; W+ = 9, W- = 1; P(W- <= 1) = 2/16
    assert w_p == pytest.approx(2 * 2 / 16)
    assert math.isnan(seed_tests(base[:1], var[:1])[0])
    assert math.isnan(seed_tests(base, base)[0])


def test_compare_pools_seeds_and_says_not_significant_plainly():
    rng = np.random.default_rng(3)
    base = [(rng.random(300) < 0.3).astype(float) for _ in range(3)]
    var = [np.where(rng.random(300) < 0.1, rng.random(300) < 0.3, b) for b in base]  # same rate
    result = compare("hr@20", base, var)
    assert result.n_seeds == 3 and result.n_examples == 900
    assert result.baseline_mean == pytest.approx(np.concatenate(base).mean())
    assert result.ci_low < result.difference < result.ci_high
    assert result.ci_low < 0 < result.ci_high
    assert not result.significant
    assert result.verdict == "not significant (95% CI covers 0)"
    better = compare("hr@20", base, [np.maximum(b, rng.random(300) < 0.2) for b in base])
    assert better.significant and better.verdict.startswith("better")
    with pytest.raises(ValueError, match="differ in length"):
        compare("hr@20", [np.ones(3)], [np.ones(4)])

"""Study statistics against independent values: hand formulas, normal theory, SciPy's own tests."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from distillrec.ranking_metrics import metrics_from_ranks, per_example_metric
from distillrec.study.statistics import ci_label, compare, paired_bootstrap_ci, seed_tests


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
    assert result.n_seeds == 3 and result.n_examples == 300  # clusters: examples, not pairs
    assert result.baseline_mean == pytest.approx(np.concatenate(base).mean())
    assert result.ci_low < result.difference < result.ci_high
    assert result.ci_low < 0 < result.ci_high
    assert not result.significant
    assert result.verdict == "not significant (95% CI covers 0)"
    better = compare("hr@20", base, [np.maximum(b, rng.random(300) < 0.2) for b in base])
    assert better.significant and better.verdict.startswith("better")
    with pytest.raises(ValueError, match="differ in length"):
        compare("hr@20", [np.ones(3)], [np.ones(4)])


def _correlated_seeds(n: int, seeds: int, rng: np.random.Generator, shared: float):
    """Per-seed (baseline, variant) arrays over the same ``n`` examples; each example's
    difference is ``shared`` parts an example effect (the same on every seed) and the rest
    seed noise: ``shared=1`` is the extreme a hard/known example gives, 0 independent seeds."""
    effect = rng.normal(0.01, 0.1, n)
    base = [rng.random(n) for _ in range(seeds)]
    var = [b + shared * effect + (1 - shared) * rng.normal(0.01, 0.1, n) for b in base]
    return base, var


def test_cluster_ci_follows_examples_not_example_seed_pairs():
    """Each example's difference is the same on all 3 seeds: 3 seeds carry no more evidence
    than one. Normal theory over the 500 examples: mean(d) ± 1.96 sd(d) / sqrt(500). Before
    the fix, compare resampled the 1,500 (example, seed) pairs as independent and its interval
    was sqrt(3) = 1.73x narrower (what the pooled call below still computes)."""
    rng = np.random.default_rng(7)
    base, var = _correlated_seeds(500, 3, rng, shared=1.0)
    d = var[0] - base[0]  # = every seed's difference
    half = 1.959964 * d.std(ddof=1) / math.sqrt(len(d))
    result = compare("ndcg@20", base, var, n_resamples=5000)
    assert result.n_examples == 500 and result.n_seeds == 3
    assert result.ci_low == pytest.approx(d.mean() - half, abs=0.08 * half)
    assert result.ci_high == pytest.approx(d.mean() + half, abs=0.08 * half)
    pooled = paired_bootstrap_ci(np.concatenate(base), np.concatenate(var), n_resamples=5000)
    ratio = (result.ci_high - result.ci_low) / (pooled[1] - pooled[0])
    assert 1.55 < ratio < 1.95  # sqrt(3) = 1.73: the per-pair interval is visibly too narrow


def test_cluster_ci_is_not_wider_when_seeds_are_independent():
    """No example effect: pooling the 3 x 500 pairs is right, and the cluster bootstrap agrees
    (it widens only what correlation between seeds makes uncertain)."""
    rng = np.random.default_rng(8)
    base, var = _correlated_seeds(500, 3, rng, shared=0.0)
    result = compare("ndcg@20", base, var, n_resamples=5000)
    pooled = paired_bootstrap_ci(np.concatenate(base), np.concatenate(var), n_resamples=5000)
    ratio = (result.ci_high - result.ci_low) / (pooled[1] - pooled[0])
    assert 0.88 < ratio < 1.12


def test_cluster_ci_matches_an_explicit_resampling_of_examples():
    """An independent implementation: draw example indices with replacement, take every seed's
    values of the drawn examples, compute the pooled difference and gain; percentile CI."""
    rng = np.random.default_rng(9)
    base, var = _correlated_seeds(300, 3, rng, shared=0.6)
    b, v = np.stack(base), np.stack(var)  # [seeds, examples]
    draws = np.random.default_rng(123).integers(0, b.shape[1], size=(8000, b.shape[1]))
    diffs = np.array([v[:, i].mean() - b[:, i].mean() for i in draws])
    gains = np.array([100 * (v[:, i].mean() / b[:, i].mean() - 1) for i in draws])
    result = compare("ndcg@20", base, var, n_resamples=8000)
    half = (np.quantile(diffs, 0.975) - np.quantile(diffs, 0.025)) / 2
    assert result.ci_low == pytest.approx(np.quantile(diffs, 0.025), abs=0.06 * half)
    assert result.ci_high == pytest.approx(np.quantile(diffs, 0.975), abs=0.06 * half)
    g_half = (np.quantile(gains, 0.975) - np.quantile(gains, 0.025)) / 2
    assert result.gain_ci_low_pct == pytest.approx(np.quantile(gains, 0.025), abs=0.06 * g_half)
    assert result.gain_ci_high_pct == pytest.approx(np.quantile(gains, 0.975), abs=0.06 * g_half)
    assert result.difference == pytest.approx(v.mean() - b.mean())
    assert result.gain_pct == pytest.approx(100 * (v.mean() / b.mean() - 1))


def test_seeds_must_score_the_same_examples():
    with pytest.raises(ValueError, match="same cluster on every seed"):
        compare("hr@20", [np.ones(3), np.ones(4)], [np.ones(3), np.ones(4)])


def test_ci_label_prints_the_level_it_was_computed_at():
    assert ci_label(0.95) == "95% CI" and ci_label(0.975) == "97.5% CI"
    rng = np.random.default_rng(4)
    base = [rng.random(200) for _ in range(2)]
    result = compare("hr@20", base, base, confidence=0.9)
    assert result.verdict == "not significant (90% CI covers 0)"

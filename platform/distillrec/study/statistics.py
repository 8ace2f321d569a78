"""Paired statistics of a variant against its baseline: bootstrap CIs and tests over seeds (SciPy).

A study's runs are paired: within a (dataset, student, seed) cell the baseline and a variant see
the same data, seed, budget and non-distillation settings, and are scored on the same test
examples. So the comparison uses per-example differences:

- **Cluster bootstrap CI** (:func:`compare`): the resampling unit is a test **example** with all
  its seeds. An example that is hard (or that the teacher knows) under seed 0 is hard under
  seed 1 too, so its per-seed differences are correlated; resampling (example, seed) pairs as
  independent units would count one example ``n_seeds`` times as separate evidence and give an
  interval up to ``sqrt(n_seeds)`` too narrow. Each example is reduced to its mean over seeds on
  each side (rows aligned by example), and those per-example means are resampled in pairs with
  ``scipy.stats.bootstrap(paired=True)`` (:func:`paired_bootstrap_ci`), percentile method, a
  fixed RNG seed: the interval is reproducible. Every example has every paired seed (equal
  cluster sizes), so the mean of the resampled clusters' means *is* the pooled mean over their
  (example, seed) values: this is the cluster bootstrap of the pooled difference and of the
  relative gain, which SciPy can then express directly.
- **Paired tests over seeds** (:func:`seed_tests`): one mean per seed and side,
  ``scipy.stats.ttest_rel`` and ``scipy.stats.wilcoxon`` (exact; with 3 seeds its smallest
  two-sided p-value is 0.25, so it can never be significant there: it is shown, not used).

A gain is called significant only when its CI (95% unless the study's ``statistics.confidence``
says otherwise) excludes 0; otherwise the report says "not significant" in words.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import asdict, dataclass

import numpy as np
from scipy import stats

CONFIDENCE = 0.95
N_RESAMPLES = 2000
BOOTSTRAP_BATCH = 100  # resamples per vectorised step: 10k test examples stays < 50 MB


def ci_label(confidence: float) -> str:
    """``"95% CI"`` (``"97.5% CI"``): the level as the report prints it, never rounded away."""
    return f"{100 * confidence:.10g}% CI"


@dataclass(frozen=True)
class PairedComparison:
    """A variant against its paired baseline on one metric (test examples pooled over seeds)."""

    metric: str
    n_seeds: int  # paired seeds: both sides finished on each
    n_examples: int  # resampling units (clusters): test examples, each with its n_seeds values
    baseline_mean: float
    variant_mean: float
    difference: float  # variant - baseline (absolute)
    ci_low: float  # CI of the difference
    ci_high: float
    gain_pct: float  # 100 * difference / baseline_mean
    gain_ci_low_pct: float
    gain_ci_high_pct: float
    t_pvalue: float  # paired t-test over seed means (nan with < 2 seeds)
    wilcoxon_pvalue: float  # Wilcoxon signed-rank over seed means (nan when undefined)
    confidence: float = CONFIDENCE

    @property
    def significant(self) -> bool:
        return self.ci_low > 0 or self.ci_high < 0

    @property
    def verdict(self) -> str:
        """Plain words: what the interval says."""
        level = ci_label(self.confidence)
        if self.ci_low > 0:
            return f"better ({level} above 0)"
        if self.ci_high < 0:
            return f"worse ({level} below 0)"
        return f"not significant ({level} covers 0)"

    def as_dict(self) -> dict[str, float | int | str | bool]:
        return {**asdict(self), "significant": self.significant, "verdict": self.verdict}


def paired_bootstrap_ci(
    baseline: np.ndarray,
    variant: np.ndarray,
    statistic: str = "difference",
    *,
    confidence: float = CONFIDENCE,
    n_resamples: int = N_RESAMPLES,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile CI of ``mean(variant) - mean(baseline)`` (``statistic="difference"``) or of
    ``100 * (mean(variant) / mean(baseline) - 1)`` (``"gain_pct"``), resampling the paired
    units (the same indices on both sides) with ``scipy.stats.bootstrap(paired=True)``.

    Each position is one independent unit: :func:`compare` passes one value per test example
    (its mean over seeds), never one per (example, seed) pair, so seeds of an example are
    resampled together."""
    base, var = _paired_arrays(baseline, variant)
    if statistic == "difference":
        fn = _mean_difference
    elif statistic == "gain_pct":
        fn = _gain_pct
    else:
        raise ValueError(f"unknown statistic {statistic!r}; valid: difference, gain_pct")
    if len(base) < 2:
        return math.nan, math.nan
    point = float(fn(base, var, axis=-1))
    if np.all(var - base == (var - base)[0]) and np.all(base == base[0]):
        return point, point  # every resample gives the same value: SciPy calls it degenerate
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # 0/0 gains in all-zero resamples
        result = stats.bootstrap(
            (base, var),
            fn,
            paired=True,
            vectorized=True,
            confidence_level=confidence,
            n_resamples=n_resamples,
            method="percentile",
            batch=BOOTSTRAP_BATCH,
            rng=np.random.default_rng(seed),
        )
    interval = result.confidence_interval
    return float(interval.low), float(interval.high)


def seed_tests(baseline_means: np.ndarray, variant_means: np.ndarray) -> tuple[float, float]:
    """Two-sided p-values of ``ttest_rel`` and ``wilcoxon`` over per-seed means (paired by seed).

    NaN where the test is undefined: fewer than 2 seeds, or identical results on every seed.
    """
    base, var = _paired_arrays(baseline_means, variant_means)
    if len(base) < 2 or np.allclose(var - base, 0.0):
        return math.nan, math.nan
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # constant differences: ttest_rel says so with a nan
        t_p = float(stats.ttest_rel(var, base).pvalue)
        try:
            w_p = float(stats.wilcoxon(var, base).pvalue)
        except ValueError:
            w_p = math.nan
    return t_p, w_p


def compare(
    metric: str,
    baseline_by_seed: list[np.ndarray],
    variant_by_seed: list[np.ndarray],
    *,
    confidence: float = CONFIDENCE,
    n_resamples: int = N_RESAMPLES,
    seed: int = 0,
) -> PairedComparison:
    """One :class:`PairedComparison` from per-seed arrays of per-example values, aligned on the
    same test examples within and across seeds: ``baseline_by_seed[i][j]`` pairs
    ``variant_by_seed[i][j]``, and column ``j`` is the same example on every seed ``i`` (the
    report sorts each seed's rows by ``example_id``). The CIs resample examples as clusters
    (see the module docstring); the tests compare the per-seed means.
    """
    base_matrix, var_matrix = _seed_matrices(baseline_by_seed, variant_by_seed)
    base, var = base_matrix.mean(axis=0), var_matrix.mean(axis=0)  # per example, over seeds
    kwargs = {"confidence": confidence, "n_resamples": n_resamples, "seed": seed}
    low, high = paired_bootstrap_ci(base, var, "difference", **kwargs)
    g_low, g_high = paired_bootstrap_ci(base, var, "gain_pct", **kwargs)
    t_p, w_p = seed_tests(base_matrix.mean(axis=1), var_matrix.mean(axis=1))
    return PairedComparison(
        metric=metric,
        n_seeds=base_matrix.shape[0],
        n_examples=base_matrix.shape[1],
        baseline_mean=float(base.mean()),
        variant_mean=float(var.mean()),
        difference=float(_mean_difference(base, var, axis=-1)),
        ci_low=low,
        ci_high=high,
        gain_pct=float(_gain_pct(base, var, axis=-1)),
        gain_ci_low_pct=g_low,
        gain_ci_high_pct=g_high,
        t_pvalue=t_p,
        wilcoxon_pvalue=w_p,
        confidence=confidence,
    )


def _seed_matrices(
    baseline_by_seed: list[np.ndarray], variant_by_seed: list[np.ndarray]
) -> tuple[np.ndarray, np.ndarray]:
    """``[n_seeds, n_examples]`` arrays of both sides; every seed must score the same examples."""
    if len(baseline_by_seed) != len(variant_by_seed) or not baseline_by_seed:
        raise ValueError("need the same, non-zero number of seeds on both sides")
    pairs = [_paired_arrays(b, v) for b, v in zip(baseline_by_seed, variant_by_seed, strict=True)]
    lengths = {len(b) for b, _ in pairs}
    if len(lengths) != 1:
        raise ValueError(
            f"seeds scored different numbers of test examples ({sorted(lengths)}): an example "
            "must be the same cluster on every seed"
        )
    return np.stack([b for b, _ in pairs]), np.stack([v for _, v in pairs])


def _mean_difference(base: np.ndarray, var: np.ndarray, axis: int = -1) -> np.ndarray:
    return np.mean(var, axis=axis) - np.mean(base, axis=axis)


def _gain_pct(base: np.ndarray, var: np.ndarray, axis: int = -1) -> np.ndarray:
    denominator = np.mean(base, axis=axis)
    with np.errstate(divide="ignore", invalid="ignore"):
        return 100.0 * (np.mean(var, axis=axis) - denominator) / denominator


def _paired_arrays(baseline: np.ndarray, variant: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    base = np.asarray(baseline, dtype=np.float64).ravel()
    var = np.asarray(variant, dtype=np.float64).ravel()
    if base.shape != var.shape:
        raise ValueError(f"paired samples differ in length: {len(base)} vs {len(var)}")
    return base, var

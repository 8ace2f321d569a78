"""The study table from runs (fakes of MLflow runs, no Ray): clusters aligned by example across
seeds, missing seeds shown, the CI level the study asked for on every label."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from distillrec.errors import UserError
from distillrec.ranking_metrics import per_example_metric
from distillrec.study import report
from distillrec.study.config import StatisticsConfig
from distillrec.study.page import report_notes, to_markdown
from distillrec.study.statistics import compare
from distillrec.sweep import tracking

N_EXAMPLES = 150


def _run(student: str, variant: str, seed: int) -> SimpleNamespace:
    tags = {
        tracking.STUDENT_TAG: student,
        tracking.VARIANT_TAG: variant,
        tracking.SEED_TAG: str(seed),
        "rd_coverage": "0.0" if variant == "baseline" else "0.5",
    }
    if variant != "baseline":
        tags["teacher_train_coverage"] = "0.5"
    metrics = {"test_ndcg_20": 0.1 + seed / 100, "best_val_ndcg_20": 0.1}
    return SimpleNamespace(
        info=SimpleNamespace(run_id=f"{student}-{variant}-{seed}"),
        data=SimpleNamespace(tags=tags, metrics=metrics, params={}),
    )


@pytest.fixture
def ranks(monkeypatch: pytest.MonkeyPatch) -> dict[str, pd.DataFrame]:
    """Per run id, its test ranks: each example's rank shares an example effect across seeds
    (hard examples stay hard), rows in a different order in every run."""
    rng = np.random.default_rng(0)
    hardness = rng.integers(0, 40, N_EXAMPLES)
    table: dict[str, pd.DataFrame] = {}
    for variant, boost in (("baseline", 0), ("dllm2rec", 4), ("rd_only", 2)):
        for seed in range(3):
            noise = rng.integers(0, 6, N_EXAMPLES)
            frame = pd.DataFrame(
                {
                    "example_id": np.arange(1000, 1000 + N_EXAMPLES),
                    "rank": np.maximum(hardness + noise - boost, 0),
                }
            )
            table[f"gru4rec-{variant}-{seed}"] = frame.sample(frac=1.0, random_state=seed + boost)
    monkeypatch.setattr(report, "tracking_ranks", lambda uri, run_id: table[run_id])
    return table


def _sorted_values(frames: dict[str, pd.DataFrame], run_id: str, metric: str) -> np.ndarray:
    frame = frames[run_id].sort_values("example_id")
    return per_example_metric(frame["rank"].to_numpy(), metric)


def test_gains_resample_examples_with_all_their_seeds_whatever_the_row_order(ranks):
    """Every run lists its rows in another order; the table's CI is the cluster bootstrap of
    the example-aligned values (compare on rows sorted by example_id), not of pooled pairs."""
    runs = [_run("gru4rec", v, s) for v in ("baseline", "dllm2rec") for s in range(3)]
    stats = StatisticsConfig(n_resamples=500, seed=3)
    table = report.study_table("uri", runs, statistics=stats, seeds=[0, 1, 2])
    row = table.set_index("variant").loc["dllm2rec"]
    expected = compare(
        "ndcg@20",
        [_sorted_values(ranks, f"gru4rec-baseline-{s}", "ndcg@20") for s in range(3)],
        [_sorted_values(ranks, f"gru4rec-dllm2rec-{s}", "ndcg@20") for s in range(3)],
        n_resamples=500,
        seed=3,
    )
    assert expected.n_examples == N_EXAMPLES
    assert row["diff test NDCG@20 CI low"] == pytest.approx(expected.ci_low)
    assert row["diff test NDCG@20 CI high"] == pytest.approx(expected.ci_high)
    assert row["gain test NDCG@20 CI low (%)"] == pytest.approx(expected.gain_ci_low_pct)
    assert row["paired seeds"] == 3 and row["missing seeds"] == ""
    # each row's share of training rows with a ranking-distillation term (the runs' rd_coverage)
    coverage = table.set_index("variant")["RD coverage (%)"]
    assert coverage.to_dict() == {"baseline": 0.0, "dllm2rec": 50.0}


def test_a_missing_seed_is_shown_not_silently_averaged(ranks):
    """dllm2rec's seed 1 failed and every rd_only run did: the rows say so, the gain pairs
    seeds 0 and 2 only, and the page lists the missing runs."""
    runs = [_run("gru4rec", "baseline", s) for s in range(3)]
    runs += [_run("gru4rec", "dllm2rec", s) for s in (0, 2)]
    stats = StatisticsConfig(n_resamples=300)
    table = report.study_table(
        "uri",
        runs,
        statistics=stats,
        variants=["baseline", "dllm2rec", "rd_only"],
        seeds=[0, 1, 2],
    )
    rows = table.set_index("variant")
    assert rows.loc["dllm2rec", "seeds"] == 2 and rows.loc["dllm2rec", "missing seeds"] == "1"
    assert rows.loc["dllm2rec", "paired seeds"] == 2
    assert rows.loc["dllm2rec", "test ndcg@20 mean"] == pytest.approx(0.11)  # seeds 0 and 2
    expected = compare(
        "hr@20",
        [_sorted_values(ranks, f"gru4rec-baseline-{s}", "hr@20") for s in (0, 2)],
        [_sorted_values(ranks, f"gru4rec-dllm2rec-{s}", "hr@20") for s in (0, 2)],
        n_resamples=300,
    )
    assert rows.loc["dllm2rec", "gain test HR@20 (%)"] == pytest.approx(expected.gain_pct)
    assert rows.loc["dllm2rec", "diff test HR@20 CI low"] == pytest.approx(expected.ci_low)
    assert rows.loc["rd_only", "seeds"] == 0 and rows.loc["rd_only", "paired seeds"] == 0
    assert rows.loc["rd_only", "verdict test NDCG@20"] == "no finished runs"
    notes = report_notes(table, [], stats, recorded=True)
    page = to_markdown(table, "t", {}, notes, stats.confidence)
    assert "| gru4rec | baseline | 3 |" in page
    assert "| gru4rec | dllm2rec | 2 of 3 (missing 1) |" in page
    assert "| 2 of 3 (missing 1) | +" in page or "| 2 of 3 (missing 1) | -" in page  # paired
    assert "| gru4rec | rd_only | 0 of 3 (missing 0, 1, 2) |" in page
    assert "MISSING RUNS" in page and "gru4rec/dllm2rec (seeds 1)" in page


def test_seeds_scored_on_different_examples_are_refused(ranks):
    ranks["gru4rec-baseline-1"] = ranks["gru4rec-baseline-1"].iloc[:-1]
    ranks["gru4rec-dllm2rec-1"] = ranks["gru4rec-dllm2rec-1"].iloc[:-1]
    runs = [_run("gru4rec", v, s) for v in ("baseline", "dllm2rec") for s in range(3)]
    with pytest.raises(UserError, match="different test examples"):
        report.study_table("uri", runs, statistics=StatisticsConfig(n_resamples=100))


def test_labels_carry_the_study_confidence(ranks):
    runs = [_run("gru4rec", v, s) for v in ("baseline", "dllm2rec") for s in range(3)]
    stats = StatisticsConfig(confidence=0.9, n_resamples=200, seed=5)
    table = report.study_table("uri", runs, statistics=stats)
    notes = report_notes(table, [], stats, recorded=True)
    page = to_markdown(table, "t", {}, notes, stats.confidence)
    assert "gain test NDCG@20 [90% CI]" in page and "gain test HR@20 [90% CI]" in page
    assert "95%" not in page
    assert "90% CI: paired cluster bootstrap" in page and "200 resamples, RNG seed 5" in page
    verdict = table.set_index("variant").loc["dllm2rec", "verdict test NDCG@20"]
    assert "(90% CI" in verdict
    old = report_notes(table, [], StatisticsConfig(), recorded=False)
    assert "defaults used" in " ".join(old)


def test_statistics_settings_survive_the_parent_run_params():
    stats = StatisticsConfig(confidence=0.9, n_resamples=700, seed=4)
    params = {key: str(value) for key, value in stats.as_params().items()}  # MLflow: strings
    assert params == {
        "statistics.confidence": "0.9",
        "statistics.n_resamples": "700",
        "statistics.seed": "4",
    }
    assert StatisticsConfig.from_params({**params, "epochs": "3"}) == stats
    assert StatisticsConfig.from_params({"epochs": "3"}) is None

"""The report's table math on a real (temporary) MLflow store with hand-made trial runs."""

from __future__ import annotations

import math

import pytest

from distillrec.sweep import tracking
from distillrec.sweep.report import report_table, to_markdown


def add_trial(uri: str, parent: str, student: str, variant: str, val: float, test: float) -> str:
    mlf = tracking.client(uri)
    exp = mlf.get_run(parent).info.experiment_id
    tags = {
        tracking.PARENT_TAG: parent,
        tracking.STUDENT_TAG: student,
        tracking.VARIANT_TAG: variant,
    }
    run = mlf.create_run(exp, tags=tags)
    for key, value in {
        "best_val_ndcg_20": val,
        "best_val_hr_20": 2 * val,
        "test_ndcg_20": test,
        "test_hr_20": 2 * test,
    }.items():
        mlf.log_metric(run.info.run_id, key, value)
    mlf.set_terminated(run.info.run_id)
    return run.info.run_id


def test_report_picks_best_distillation_on_validation_and_computes_gains(mlflow_store):
    uri = mlflow_store
    parent = tracking.start_parent_run(
        uri, "report-test", run_name="p", tags={}, params={"students": ["sasrec", "gru4rec"]}
    )
    add_trial(uri, parent, "gru4rec", "baseline", val=0.030, test=0.020)
    best = add_trial(uri, parent, "gru4rec", "dllm2rec", val=0.040, test=0.025)
    add_trial(uri, parent, "gru4rec", "dllm2rec", val=0.035, test=0.090)  # best on test: ignored
    add_trial(uri, parent, "sasrec", "baseline", val=0.050, test=0.040)
    unfinished = tracking.client(uri).create_run(
        tracking.client(uri).get_run(parent).info.experiment_id,
        tags={
            tracking.PARENT_TAG: parent,
            tracking.STUDENT_TAG: "sasrec",
            tracking.VARIANT_TAG: "dllm2rec",
        },
    )
    assert unfinished.info.status == "RUNNING"

    table = report_table(uri, parent)
    assert list(table["student"]) == ["sasrec", "sasrec", "gru4rec", "gru4rec"]
    gru = table[table["student"] == "gru4rec"].set_index("setting")
    assert gru.loc["best DLLM2Rec", "run_id"] == best
    assert gru.loc["best DLLM2Rec", "gain test NDCG@20 (%)"] == pytest.approx(25.0)
    assert gru.loc["best DLLM2Rec", "gain test HR@20 (%)"] == pytest.approx(25.0)
    assert math.isnan(gru.loc["no distillation", "gain test NDCG@20 (%)"])
    sas = table[table["student"] == "sasrec"].set_index("setting")
    assert math.isnan(sas.loc["best DLLM2Rec", "test NDCG@20"])  # no finished distillation trial

    text = to_markdown(table, "t")
    row = "| gru4rec | best DLLM2Rec | 0.0800 | 0.0400 | 0.0500 | 0.0250 | +25.0% | +25.0% |"
    assert row in text
    assert "| sasrec | best DLLM2Rec | - | - | - | - | - | - |" in text


def test_the_page_says_how_the_baselines_were_tuned():
    from distillrec.sweep.report import baseline_note

    tuned = baseline_note(
        {"baseline_tuning": "rerun_best", "tuned_baseline.gru4rec": '{"lr": 0.004}'}
    )
    assert 'gru4rec: {"lr": 0.004}' in tuned and "same tuning" in tuned
    assert "Baseline tuning: NONE" in baseline_note({"baseline_tuning": "base_config"})
    assert "Baseline tuning: NONE" in baseline_note({})  # sweeps logged before the switch

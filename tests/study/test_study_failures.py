"""A study with failed runs exits 1 in one line naming them; the report shows what is missing."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import mlflow
import pandas as pd
import yaml
from typer.testing import CliRunner

from distillrec.sweep.failures import judge_study_failures

ROOT = Path(__file__).resolve().parents[2]
QUICK = ROOT / "configs" / "studies" / "ml-100k-quick.yaml"


def _run(variant: str, seed: int, error: str | None = None) -> SimpleNamespace:
    """The two fields of a Ray Tune ``Result`` the verdict reads."""
    config = {"student": "gru4rec", "variant": variant, "seed": seed}
    return SimpleNamespace(config=config, error=error and RuntimeError(error))


def test_study_failure_verdicts():
    ok = [_run("baseline", 0), _run("dllm2rec", 0)]
    assert judge_study_failures({"d": ok}, study="s", where="w", allow_failed=False).error is None
    bad = _run("dllm2rec", 1, "Traceback ...\nNonFiniteError: loss inf")
    refused = judge_study_failures({"d": [*ok, bad]}, study="s", where="here", allow_failed=False)
    assert refused.error == (
        "study s: 1 of 3 runs failed (d gru4rec/dllm2rec/seed 1; first: NonFiniteError: loss "
        "inf); here; fix the cause and continue with --resume, or set allow_failed_trials: true"
    )
    allowed = judge_study_failures({"d": [*ok, bad]}, study="s", where="here", allow_failed=True)
    assert allowed.error is None and "1 of 3 runs failed" in allowed.warning
    many = {"d": [_run("x", seed, "boom") for seed in range(7)], "e": ok}
    named = judge_study_failures(many, study="s", where="w", allow_failed=False).error
    assert "7 of 9 runs failed" in named and "d gru4rec/x/seed 4, +2 more;" in named


def test_a_study_with_failed_runs_exits_1_and_reports_the_missing_runs(
    ml100k, study_teacher, tmp_path, mlflow_store, ray_session, monkeypatch
):
    """Before: "2 runs (1 failed)", exit 0. ``distill.lam = 1e39`` overflows the loss to inf,
    so every run of the variant ``boom`` stops with a NaN/inf error; the baseline finishes."""
    from distillrec.cli import app

    monkeypatch.chdir(tmp_path)
    config = yaml.safe_load(QUICK.read_text())
    config.update(
        name="failing",
        datasets=[{"name": "ml-100k", "path": str(ml100k), "teacher": str(study_teacher)}],
        variants=["baseline", "boom"],
        custom_variants={"boom": {"distill": {"lam": 1e39}}},
        seeds=[0],
        max_failures=0,
        storage_path=str(tmp_path / "ray_results"),
        report_dir=str(tmp_path / "reports"),
        verbose=0,
        mlflow={"tracking_uri": mlflow_store},
    )
    path = tmp_path / "study.yaml"
    path.write_text(yaml.safe_dump(config))
    result = CliRunner().invoke(app, ["study", "--config", str(path)])
    assert result.exit_code == 1, result.output[-3000:]
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, result.stderr[-3000:]
    assert "study failing: 1 of 2 runs failed (ml-100k gru4rec/boom/seed 0; first:" in errors[0]
    assert "Tune folder" in errors[0] and "allow_failed_trials" in errors[0]
    table = pd.read_csv(tmp_path / "reports" / "failing" / "ml-100k" / "report.csv")
    boom = table.set_index("variant").loc["boom"]
    assert boom["seeds"] == 0 and boom["paired seeds"] == 0
    assert boom["verdict test NDCG@20"] == "no finished runs"
    assert "| gru4rec | boom | 0 of 1 (missing 0) |" in result.stdout
    client = mlflow.MlflowClient(mlflow_store)
    parents = client.search_runs(
        [client.get_experiment_by_name("distillrec-studies").experiment_id],
        "tags.`distillrec.kind` = 'study'",
    )
    assert [r.info.status for r in parents] == ["FAILED"]

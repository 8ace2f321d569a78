"""A real sweep on ml-100k: Ray Tune trials running train(), MLflow parent/child runs, the
registry champion, the report, and an interrupted sweep continued with resume."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pandas as pd
import pytest

from distillrec.config import read_yaml, validate
from distillrec.sweep.config import SweepConfig

pytestmark = pytest.mark.integration
SMOKE_CONFIG = Path(__file__).resolve().parents[2] / "configs" / "sweeps" / "ml-100k-smoke.yaml"


def smoke_config(tmp_path: Path, dataset: Path, teacher: Path) -> SweepConfig:
    """The shipped smoke config, pointed at the session's data and one student (time budget)."""
    data = read_yaml(SMOKE_CONFIG)
    data.update(
        datasets=[{"name": "ml-100k", "path": str(dataset), "teacher": str(teacher)}],
        students=["gru4rec"],
        search={"algorithm": "random", "num_samples": 2, "seed": 0},
        storage_path=str(tmp_path / "ray_results"),
        report_dir=str(tmp_path / "reports"),
        verbose=0,
    )
    return validate(SweepConfig, data, "test smoke config")


def interrupt_after_first_trial(marker: Path):
    """A Ray Tune callback that presses Ctrl-C once, when the first trial has finished.

    The restored Tuner keeps its callbacks, so ``marker`` makes it fire only once.
    """
    from ray.tune import Callback

    class InterruptOnce(Callback):
        def on_trial_complete(self, iteration, trials, trial, **info):
            if not marker.exists():
                marker.touch()
                os.kill(os.getpid(), signal.SIGINT)

    return InterruptOnce()


def finished_by_trial(uri: str, parent_run_id: str) -> dict[str, list]:
    from distillrec.sweep import tracking

    out: dict[str, list] = {}
    for run in tracking.child_runs(uri, parent_run_id, finished_only=True):
        out.setdefault(run.data.tags[tracking.TRIAL_TAG], []).append(run)
    return out


def test_sweep_interrupted_then_resumed(
    ray_session, mlflow_store, ml100k, ml100k_teacher, tmp_path
):
    from mlflow import MlflowClient

    from distillrec.sweep import tracking
    from distillrec.sweep.tuner import run_sweep

    cfg = smoke_config(tmp_path, ml100k, ml100k_teacher)
    (first,) = run_sweep(cfg, callbacks=[interrupt_after_first_trial(tmp_path / "interrupted")])
    assert first.interrupted and first.champion is None
    client = MlflowClient(mlflow_store)
    assert client.get_run(first.parent_run_id).info.status == "KILLED"
    done_before = finished_by_trial(mlflow_store, first.parent_run_id)
    assert 1 <= len(done_before) < 3

    (result,) = run_sweep(cfg, resume=True)
    assert not result.interrupted and result.num_errors == 0
    assert result.parent_run_id == first.parent_run_id and result.num_trials == 3
    parent = client.get_run(result.parent_run_id)
    assert parent.info.status == "FINISHED"
    assert parent.data.tags[tracking.KIND_TAG] == "sweep"
    done = finished_by_trial(mlflow_store, result.parent_run_id)
    assert len(done) == 3 and all(len(runs) == 1 for runs in done.values())
    for trial_id, runs in done_before.items():  # finished trials were not trained again
        assert done[trial_id][0].info.run_id == runs[0].info.run_id

    runs = [r[0] for r in done.values()]
    variants = sorted(r.data.tags[tracking.VARIANT_TAG] for r in runs)
    assert variants == ["baseline", "dllm2rec", "dllm2rec"]
    fingerprint = json.loads((ml100k / "meta.json").read_text())["fingerprint"]
    for run in runs:
        distilled = run.data.tags[tracking.VARIANT_TAG] == "dllm2rec"
        assert run.data.tags["student"] == "gru4rec"
        assert run.data.tags["dataset_fingerprint"] == fingerprint
        assert bool(run.data.tags["teacher_artifact"]) == distilled
        assert (float(run.data.params["distill.lam"]) > 0) == distilled
        assert run.data.params["num_threads"] == "1"
        history = client.get_metric_history(run.info.run_id, "val_ndcg_20")
        assert [m.step for m in history] == [1]
        for key in ("best_val_ndcg_20", "best_val_hr_20", "test_ndcg_20", "test_hr_20"):
            assert 0 < run.data.metrics[key] < 1

    # the baseline re-ran the best distillation trial's non-distillation settings (same tuning)
    (baseline,) = [r for r in runs if r.data.tags[tracking.VARIANT_TAG] == "baseline"]
    distilled = [r for r in runs if r.data.tags[tracking.VARIANT_TAG] == "dllm2rec"]
    best_distilled = max(distilled, key=lambda r: r.data.metrics["best_val_ndcg_20"])
    assert baseline.data.params["lr"] == best_distilled.data.params["lr"]
    assert baseline.data.params["distill.lam"] == "0.0"
    page = result.report_files["md"].read_text()
    assert "re-ran its best DLLM2Rec trial's" in page
    assert "training coverage: **100.0%**" in page  # the teacher beside every report
    assert "ranked no val/test rows" in page

    best = max(runs, key=lambda r: r.data.metrics["best_val_ndcg_20"])
    version = client.get_model_version_by_alias("distillrec-ml-100k", "champion")
    assert version.run_id == best.info.run_id
    assert float(version.tags["test_ndcg_20"]) == pytest.approx(
        best.data.metrics["test_ndcg_20"], abs=1e-6
    )
    assert version.tags["student"] == "gru4rec" and "distill.lam" in version.tags["config"]

    table = pd.read_csv(result.report_files["csv"])
    assert list(table["setting"]) == ["no distillation", "best DLLM2Rec"]
    assert table["test NDCG@20"].between(0, 1).all()
    assert "best DLLM2Rec" in result.report_files["md"].read_text()
    assert result.report_files["png"].read_bytes()[:4] == b"\x89PNG"
    logged = {a.path for a in client.list_artifacts(result.parent_run_id, "report")}
    assert {"report/report.md", "report/report.csv", "report/report.png"} <= logged

    from typer.testing import CliRunner

    from distillrec.cli import app

    out = tmp_path / "cli-report"
    cli = CliRunner().invoke(app, ["report", "--dataset", "ml-100k", "--out", str(out)])
    assert cli.exit_code == 0, cli.output
    assert "| gru4rec | best DLLM2Rec |" in cli.output
    assert (out / "report.csv").read_text() == result.report_files["csv"].read_text()

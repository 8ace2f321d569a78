"""A real quick study on ml-100k: paired runs through Ray Tune, child runs, report, resume."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import mlflow
import pandas as pd
import pytest
from typer.testing import CliRunner

from distillrec.distill.variants import is_distillation_key
from distillrec.errors import UserError
from distillrec.study.config import StatisticsConfig, load_study_config
from distillrec.sweep import tracking

ROOT = Path(__file__).resolve().parents[2]
QUICK = ROOT / "configs" / "studies" / "ml-100k-quick.yaml"


def quick_config(ml100k: Path, teacher: Path, tmp_path: Path, uri: str):
    return load_study_config(
        QUICK,
        [
            f"datasets=[{{name: ml-100k, path: '{ml100k}', teacher: '{teacher}'}}]",
            f"storage_path={tmp_path / 'ray_results'}",
            f"report_dir={tmp_path / 'reports'}",
            f"mlflow.tracking_uri={uri}",
            "verbose=0",
            "statistics.confidence=0.9",  # not the default: every label must follow it
        ],
    )


def test_quick_study_is_paired_tracked_reported_and_resumable(
    ml100k, study_teacher, tmp_path, mlflow_store, ray_session, monkeypatch
):
    from distillrec.study.runner import run_study

    monkeypatch.chdir(tmp_path)

    cfg = quick_config(ml100k, study_teacher, tmp_path, mlflow_store)
    result = run_study(cfg)
    assert (result.num_runs, result.num_errors, result.interrupted) == (4, 0, False)

    children = tracking.child_runs(mlflow_store, result.parent_run_id, finished_only=True)
    # names say dataset, student, variant and seed (training.naming: settings and trial between)
    named = sorted(
        re.fullmatch(
            r"ml-100k-gru4rec-(baseline|dllm2rec)-.*seed(\d+)-t\d+", r.info.run_name
        ).groups()
        for r in children
    )
    assert named == [(v, s) for v in ("baseline", "dllm2rec") for s in ("0", "1")]
    for run in children:
        tags = run.data.tags
        assert tags[tracking.STUDENT_TAG] == "gru4rec" and tags[tracking.STUDY_TAG] == cfg.name
        distilled = tags[tracking.VARIANT_TAG] == "dllm2rec"
        assert bool(tags["teacher_manifest_sha256"]) == distilled
        assert float(tags["rd_coverage"]) == pytest.approx(0.5 if distilled else 0.0, abs=0.01)
        if distilled:  # the teacher's own training coverage: the same share here
            assert tags["teacher_train_coverage"] == tags["rd_coverage"]
        assert run.data.params["dros.alpha"] == "0.0"  # the gru4rec preset: no DROS term
    # pairing: within a seed, every non-distillation parameter is identical
    for seed in ("0", "1"):
        cell = [r for r in children if r.data.tags[tracking.SEED_TAG] == seed]
        shared = [
            {k: v for k, v in r.data.params.items() if not is_distillation_key(k)} for r in cell
        ]
        assert len(cell) == 2 and shared[0] == shared[1] and shared[0]["seed"] == seed
        assert {r.data.params["distill.lam"] for r in cell} == {"0.0", "0.8"}

    params = mlflow.MlflowClient().get_run(result.parent_run_id).data.params
    assert params["statistics.confidence"] == "0.9" and params["statistics.n_resamples"] == "500"
    files = result.report_files["ml-100k"]
    table = pd.read_csv(files["csv"])
    assert list(table["variant"]) == ["baseline", "dllm2rec"]
    for column in (
        "seeds",
        "paired seeds",
        "val ndcg@20 mean",
        "test hr@10 std",
        "test ndcg@20 mean",
        "gain test NDCG@20 (%)",
        "gain test NDCG@20 CI low (%)",
        "gain test NDCG@20 CI high (%)",
        "p test NDCG@20 (t-test over seeds)",
        "verdict test HR@20",
        "RD coverage (%)",
    ):
        assert column in table.columns, column
    row = table.iloc[1]
    assert row["gain test NDCG@20 CI low (%)"] <= row["gain test NDCG@20 (%)"]
    assert row["gain test NDCG@20 (%)"] <= row["gain test NDCG@20 CI high (%)"]
    assert row["paired seeds"] == 2 and row["CI level (%)"] == 90
    page = files["md"].read_text()
    assert "gain test NDCG@20 [90% CI]" in page and "95%" not in page
    assert "training coverage: **50.0%**" in page and "popularity HR@20" in page
    assert "Checked on the runs' parameters: OK" in page
    assert any(word in page for word in ("not significant", "better (", "worse ("))
    assert files["png"].read_bytes()[:4] == b"\x89PNG"
    logged = mlflow.MlflowClient().list_artifacts(result.parent_run_id, "report/ml-100k")
    assert {Path(a.path).name for a in logged} >= {"report.md", "report.csv", "report.png"}

    # a resumed study reruns nothing that finished
    started = {r.info.run_id: r.info.start_time for r in children}
    again = run_study(cfg, resume=True)
    assert again.parent_run_id == result.parent_run_id and not again.interrupted
    after = tracking.child_runs(mlflow_store, result.parent_run_id)
    assert {r.info.run_id: r.info.start_time for r in after} == started

    # `distillrec report` reads studies too
    from distillrec.cli import app

    out = tmp_path / "cli-report"
    args = ["report", "--dataset", "ml-100k", "--study", cfg.name, "--out", str(out)]
    cli = CliRunner().invoke(app, [*args, "--tracking-uri", mlflow_store])
    assert cli.exit_code == 0, cli.output
    assert "| gru4rec | dllm2rec | 2 |" in cli.output and (out / "report.png").is_file()
    # ... with the statistics the study logged (before: 95% and 2,000 resamples, always)
    assert "[90% CI]" in cli.output
    again_table = pd.read_csv(out / "report.csv")
    for column in ("gain test NDCG@20 CI low (%)", "diff test HR@20 CI high", "CI level (%)"):
        assert again_table[column].equals(table[column]), column

    # a resumed study keeps its statistics (MLflow params cannot change; the report must not)
    changed = cfg.model_copy(update={"statistics": StatisticsConfig(n_resamples=600)})
    with pytest.raises(UserError, match="statistics differ.*n_resamples 500 -> 600"):
        run_study(changed, resume=True)


def test_study_job_rejects_a_bad_config_in_one_line(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(QUICK.read_text().replace("variants: [baseline, dllm2rec]", "variants: [x]"))
    proc = subprocess.run(
        [sys.executable, str(ROOT / "jobs" / "study.py"), "--config", str(bad)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2, proc.stderr
    assert "variants" in proc.stderr and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1

"""What a researcher sees of one training run in MLflow: its name, its model's name, the teacher
(with its own quality and a link to its run) and the code version."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import mlflow
import pytest

from distillrec.provenance import COMMIT_ENV, COMMIT_TAG, source_tags
from distillrec.training import TrainConfig, train
from distillrec.training.naming import model_name, run_name, trial_index
from distillrec.training.packaging import load_student


def config(**changes) -> TrainConfig:
    base = {"dataset": "unused", "student": "gru4rec", "lr": 0.001, "seed": 0}
    return TrainConfig.model_validate({**base, **changes})


def test_run_names_say_what_differs():
    distilled = config(teacher="t", distill={"lam": 0.623, "ed_weight": 0.1})
    name = run_name(distilled, "ml-100k", variant="dllm2rec", trial=trial_index("ab12c_00003"))
    assert name == "ml-100k-gru4rec-dllm2rec-lam0.623-ed0.1-lr0.001-seed0-t00003"
    baseline = run_name(config(seed=2), "ml-100k", variant="baseline")
    assert baseline == "ml-100k-gru4rec-baseline-lr0.001-seed2"
    assert model_name("ml-100k", "gru4rec", "dllm2rec") == "ml-100k-gru4rec-dllm2rec"
    assert "." not in model_name("ml.x", "sasrec", "baseline")


def test_git_commit_recorded_in_a_checkout_and_not_invented_outside(tmp_path, monkeypatch):
    inside = source_tags()
    repo = Path(__file__).resolve().parent
    found = subprocess.run(
        ["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True, text=True
    )
    if found.returncode == 0:  # CI runs from a clone; a wheel install would not be one
        assert inside[COMMIT_TAG] == found.stdout.strip()
        assert inside["mlflow.source.name"] == f"distillrec@{found.stdout.strip()[:8]}"
    monkeypatch.delenv(COMMIT_ENV, raising=False)
    outside = source_tags(tmp_path / "a")
    assert COMMIT_TAG not in outside and outside["distillrec.version"]
    monkeypatch.setenv(COMMIT_ENV, "abc123")
    assert source_tags(tmp_path / "b")[COMMIT_TAG] == "abc123"


def teacher_with_run(tiny_teacher: Path, tmp_path: Path) -> tuple[Path, str]:
    """The tiny teacher, its manifest completed like ``teacher infer`` writes it, with a run."""
    client = mlflow.MlflowClient()
    experiment = client.create_experiment("teacher-here")
    run = client.create_run(experiment, run_name="teacher-infer-tiny")
    client.log_metric(run.info.run_id, "val_ndcg_20", 0.0321)
    client.set_terminated(run.info.run_id)
    out = tmp_path / "teacher"
    shutil.copytree(tiny_teacher, out)
    manifest = json.loads((out / "manifest.json").read_text())
    manifest.pop("source")
    manifest["model"] = {"base_model": "SmolLM2-135M-Instruct"}
    manifest["mlflow_run_id"] = run.info.run_id
    manifest["metrics"] = {
        "val": {"hr@20": 0.0612, "ndcg@20": 0.0321, "num_examples": 8.0},
        "test": {"hr@20": 0.05, "ndcg@20": 0.025, "num_examples": 8.0},
    }
    (out / "manifest.json").write_text(json.dumps(manifest))
    return out, f"#/experiments/{experiment}/runs/{run.info.run_id}"


def test_student_run_names_its_teacher_model_and_code(
    tiny_dataset, tiny_teacher, tmp_path, mlflow_store
):
    teacher, link = teacher_with_run(tiny_teacher, tmp_path)
    cfg = config(
        dataset=str(tiny_dataset),
        hidden_size=8,
        epochs=1,
        batch_size=64,
        num_threads=1,
        output_dir=str(tmp_path / "runs"),
        mlflow={"log_model": True},
    )
    result = train(cfg, teacher_dir=teacher)
    run = mlflow.get_run(result.mlflow_run_id)
    tags = run.data.tags
    assert run.info.run_name == "tiny-gru4rec-dllm2rec-lam0.8-ed0.2-lr0.001-seed0"
    assert tags["variant"] == "dllm2rec"
    assert tags["teacher_model"] == "SmolLM2-135M-Instruct"
    assert tags["teacher_val_ndcg_20"] == "0.0321" and tags["teacher_test_hr_20"] == "0.0500"
    assert tags["teacher_run_id"] and tags["teacher_source"] == f"runs:/{tags['teacher_run_id']}"
    assert float(tags["rd_coverage"]) == float(tags["teacher_train_coverage"]) > 0.5
    note = tags["mlflow.note.content"]
    assert f"[teacher run]({link})" in note and "val NDCG@20 0.0321" in note
    assert tags["distillrec.version"] and (COMMIT_TAG in tags) == (COMMIT_TAG in source_tags())
    (logged,) = mlflow.search_logged_models(
        experiment_ids=[run.info.experiment_id],
        filter_string=f"source_run_id = '{run.info.run_id}'",
        output_format="list",
    )
    assert logged.name == "tiny-gru4rec-dllm2rec"
    assert result.model_uri == f"models:/{logged.model_id}"
    assert load_student(result.model_uri).student_name == "gru4rec"


def test_baseline_run_has_no_teacher_tags(tiny_dataset, tmp_path, mlflow_store):
    cfg = config(
        dataset=str(tiny_dataset),
        hidden_size=8,
        epochs=1,
        num_threads=1,
        output_dir=str(tmp_path / "runs"),
        distill={"lam": 0.0, "ed_weight": 0.0},
    )
    run = mlflow.get_run(train(cfg).mlflow_run_id)
    assert run.info.run_name == "tiny-gru4rec-baseline-lr0.001-seed0"
    assert run.data.tags["teacher_artifact"] == "" and "teacher_model" not in run.data.tags


def test_teacher_tags_name_model_quality_run_and_coverage(tmp_path):
    from distillrec.training.teacher_info import teacher_tags

    manifest = {
        "model": {"base_model": "smollm2-135m-instruct"},
        "mlflow_run_id": "abc",
        "rows": {"train": 250, "val": 50},
        "metrics": {"test": {"hr@20": 0.0136, "ndcg@20": 0.0061, "num_examples": 50.0}},
    }
    tags = teacher_tags(manifest, tmp_path, train_coverage=0.25)
    assert tags["teacher_model"] == "smollm2-135m-instruct" and tags["teacher_run_id"] == "abc"
    assert tags["teacher_source"] == "runs:/abc" and tags["teacher_train_coverage"] == "0.2500"
    assert "teacher_coverage" not in tags and "rd_coverage" not in tags  # a run's, not a teacher's
    assert tags["teacher_test_hr_20"] == "0.0136" and "teacher_val_hr_20" not in tags
    assert teacher_tags(manifest, None) == {}


def test_teacher_train_coverage_and_rd_coverage_are_two_named_facts(tiny_dataset, tiny_teacher):
    """The teacher's training coverage is one computation, whoever shows it (report block, sweep
    tags, run tags); ``rd_coverage`` is the run's share of rows with a ranking-distillation term.
    Before, both were ``teacher_coverage``: from the manifest's row count on a sweep (absent for
    this manifest) and from the run's aligned rows on a run (0 on an ``ed_only`` run)."""
    import pyarrow.parquet as pq

    from distillrec.data import load_prepared
    from distillrec.sweep.tuner import compared_teacher_tags
    from distillrec.teacher.quality import teacher_summary
    from distillrec.training.setup import prepare_training

    train_ids = set(load_prepared(tiny_dataset).train["example_id"].tolist())
    ranked = set(pq.read_table(tiny_teacher / "rankings.parquet")["example_id"].to_pylist())
    expected = len(train_ids & ranked) / len(train_ids)  # by hand
    assert 0 < expected < 1
    assert teacher_summary(tiny_dataset, tiny_teacher)["train_coverage"] == pytest.approx(expected)
    compared = compared_teacher_tags(str(tiny_teacher), tiny_dataset)  # every run of a sweep
    assert compared["teacher_train_coverage"] == f"{expected:.4f}"
    assert "rd_coverage" not in compared and "teacher_coverage" not in compared
    runs = {}
    variants = {"dllm2rec": {}, "ed_only": {"lam": 0.0}, "rd_only": {"ed_weight": 0.0}}
    for name, distill in variants.items():
        cfg = config(dataset=str(tiny_dataset), teacher=str(tiny_teacher), distill=distill)
        setup = prepare_training(cfg, None)
        runs[name] = {**setup.tags(), **compared}  # a sweep trial's tags over the run's own
        assert runs[name]["teacher_train_coverage"] == f"{expected:.4f}", name
        assert "teacher_coverage" not in runs[name]
    assert runs["dllm2rec"]["rd_coverage"] == runs["rd_only"]["rd_coverage"] == f"{expected:.4f}"
    assert runs["ed_only"]["rd_coverage"] == "0.0000"  # the teacher is used, its rankings not
    assert setup.teacher.covered.float().mean().item() == pytest.approx(expected)  # rows aligned

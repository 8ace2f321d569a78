"""The teacher's MLflow run: the students' metric names and the job's real duration."""

from __future__ import annotations

from pathlib import Path

from mlflow import MlflowClient

CONFIG = Path(__file__).resolve().parents[2] / "configs" / "teacher" / "smollm2-135m.yaml"


def test_teacher_run_uses_student_metric_names_and_lasts_as_long_as_the_job(tmp_path):
    from distillrec.config import load_config
    from distillrec.provenance import source_tags
    from distillrec.teacher.config import TeacherConfig
    from distillrec.teacher.manifest import log_to_mlflow

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    overrides = [f"mlflow_tracking_uri={uri}", f"dataset={tmp_path}"]
    cfg = load_config(TeacherConfig, CONFIG, overrides)
    manifest = {
        "dataset_name": "toy",
        "dataset_fingerprint": "fp",
        "total_seconds": 47.0,
        "throughput": {"prompts": 10, "wall_seconds": 40.0},
        "metrics": {"val": {"hr@20": 0.1, "ndcg@20": 0.05}, "test": {"hr@20": 0.2}},
    }
    run = MlflowClient(uri).get_run(log_to_mlflow(cfg, manifest, tmp_path / "artifact"))
    assert {"val_hr_20", "val_ndcg_20", "test_hr_20", "prompts"} <= set(run.data.metrics)
    assert not [key for key in run.data.metrics if "_at_" in key]
    seconds = (run.info.end_time - run.info.start_time) / 1000
    assert 47.0 <= seconds < 60.0
    assert run.data.tags["distillrec.version"] == source_tags()["distillrec.version"]

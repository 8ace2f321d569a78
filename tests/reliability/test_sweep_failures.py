"""A sweep whose distillation trials all fail exits non-zero and registers nothing."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import mlflow
import pytest
import yaml
from reliability_helpers import run_cli, write_small_teacher

from distillrec.sweep.failures import judge_failures


def _trial(variant: str, error: str | None = None) -> SimpleNamespace:
    """The two fields of a Ray Tune ``Result`` the verdict reads."""
    return SimpleNamespace(config={"variant": variant}, error=error and RuntimeError(error))


def test_failure_verdicts():
    ok, bad = _trial("baseline"), _trial("dllm2rec", "Traceback...\nNonFiniteError: loss inf")
    assert judge_failures([ok, ok], dataset="d", has_teacher=True, allow_failed=False).register
    refused = judge_failures([ok, bad], dataset="d", has_teacher=True, allow_failed=False)
    assert not refused.register and "(first: NonFiniteError: loss inf)" in refused.error
    allowed = judge_failures([ok, bad], dataset="d", has_teacher=True, allow_failed=True)
    assert (
        not allowed.register and allowed.error is None and "all 1 distillation" in allowed.warning
    )
    partial = judge_failures(
        [ok, bad, _trial("dllm2rec")], dataset="d", has_teacher=True, allow_failed=True
    )
    assert partial.register and partial.warning == "d: 1 trials failed"


@pytest.mark.integration
def test_failed_distillation_trials_fail_the_sweep(ml100k: Path, tmp_path: Path):
    """Before: "2 trials (1 failed)", exit 0, a champion registered from the baseline.

    ``distill.lam = 1e39`` overflows the float32 loss to inf: every distillation trial stops
    with a NaN/inf error, the baseline (lam forced to 0) finishes."""
    teacher = write_small_teacher(ml100k, tmp_path / "teacher")
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    config = {
        "name": "failing",
        "datasets": [{"name": "ml-100k", "path": str(ml100k), "teacher": str(teacher)}],
        "students": ["gru4rec"],
        "base": {"hidden_size": 16, "batch_size": 4096, "patience": 1},
        "search_space": {"distill.lam": {"choice": [1e39]}},
        "search": {"algorithm": "random", "num_samples": 1, "seed": 0},
        "baseline_tuning": "base_config",  # the untuned baseline runs beside them
        "scheduler": {"type": "none"},
        "resources": {"cpus_per_trial": 1},
        "max_concurrent_trials": 1,
        "max_failures": 0,
        "epochs": 1,
        "storage_path": str(tmp_path / "ray_results"),
        "report_dir": str(tmp_path / "reports"),
        "verbose": 0,
        "mlflow": {"tracking_uri": uri, "experiment": "reliability"},
    }
    path = tmp_path / "sweep.yaml"
    path.write_text(yaml.safe_dump(config))
    result = run_cli("sweep", "--config", str(path), cwd=tmp_path, timeout=400, env={})
    assert result.returncode == 1, result.stderr[-3000:]
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, result.stderr[-3000:]
    assert "1 of 2 trials failed, all 1 distillation trials among them" in errors[0]
    assert "NaN or inf" in errors[0] or "inf" in errors[0]
    assert "nothing registered" in errors[0] and "allow_failed_trials" in errors[0]
    client = mlflow.MlflowClient(uri, registry_uri=uri)  # not a registry another test set
    assert client.search_registered_models() == []
    parents = client.search_runs(
        [client.get_experiment_by_name("reliability").experiment_id],
        "tags.`distillrec.kind` = 'sweep'",
    )
    assert [r.info.status for r in parents] == ["FAILED"]

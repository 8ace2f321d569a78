"""Register a dataset sweep's best trial as ``distillrec-<dataset>`` with the alias ``champion``.

"Best" is the highest validation NDCG@20 among finished trials (test metrics never choose a
model). The registered model is the one ``train()`` logged in that trial's run; its version is
tagged with the test metrics and the trial's configuration, so the registry alone says what it is.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

from distillrec.contracts import (
    CHAMPION_ALIAS,
    SELECTION_KEY,
    TEST_SELECTION_KEY,
    metric_key,
    registered_model_name,
)
from distillrec.sweep import tracking

MODEL_ARTIFACT = "model"  # Contract 3: log_student_model(artifact_path="model")
TAGGED_METRICS = ("hr@20", "ndcg@20", "hr@10", "ndcg@10")


@dataclass(frozen=True)
class RegisteredChampion:
    """The registered version and the run it came from."""

    name: str
    version: str
    run_id: str
    student: str
    variant: str
    val_ndcg20: float
    test_ndcg20: float


def best_trial_run(uri: str, parent_run_id: str) -> Any | None:
    """The finished trial run with the highest validation NDCG@20 (None if no trial finished).

    A non-finite metric is never a winner (runs logged before training refused NaN scores)."""
    runs = [
        r
        for r in tracking.child_runs(uri, parent_run_id, finished_only=True)
        if math.isfinite(r.data.metrics.get(SELECTION_KEY, math.nan))
    ]
    return max(runs, key=lambda r: r.data.metrics[SELECTION_KEY], default=None)


def register_champion(
    uri: str, parent_run_id: str, dataset: str, *, sweep: str
) -> RegisteredChampion | None:
    """Register the best trial's model, point ``@champion`` at it and tag it; None if no trial."""
    import mlflow

    best = best_trial_run(uri, parent_run_id)
    if best is None:
        return None
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    name = registered_model_name(dataset)
    client = tracking.client(uri)
    version = current_champion(client, name)
    if version is None or version.run_id != best.info.run_id:  # a resumed sweep: no new version
        version = mlflow.register_model(model_uri(best), name)
    client.set_registered_model_alias(name, CHAMPION_ALIAS, version.version)
    for key, value in champion_tags(best, parent_run_id, sweep).items():
        client.set_model_version_tag(name, version.version, key, value)
    client.set_tag(parent_run_id, "distillrec.champion", f"{name}/{version.version}")
    metrics = best.data.metrics
    return RegisteredChampion(
        name=name,
        version=str(version.version),
        run_id=best.info.run_id,
        student=best.data.tags.get(tracking.STUDENT_TAG, ""),
        variant=best.data.tags.get(tracking.VARIANT_TAG, ""),
        val_ndcg20=metrics[SELECTION_KEY],
        test_ndcg20=metrics.get(TEST_SELECTION_KEY, float("nan")),
    )


def current_champion(client: Any, name: str) -> Any | None:
    """The version ``@champion`` points at now, or None."""
    from mlflow.exceptions import MlflowException

    try:
        return client.get_model_version_by_alias(name, CHAMPION_ALIAS)
    except MlflowException:
        return None


def model_uri(run: Any) -> str:
    """The MLflow 3 logged model that ``train()`` logged in ``run`` (``models:/<model_id>``)."""
    import mlflow

    models = mlflow.search_logged_models(
        experiment_ids=[run.info.experiment_id],
        filter_string=f"source_run_id = '{run.info.run_id}' AND name = '{MODEL_ARTIFACT}'",
        output_format="list",
    )
    if models:
        return f"models:/{models[0].model_id}"
    return f"runs:/{run.info.run_id}/{MODEL_ARTIFACT}"


def champion_tags(run: Any, parent_run_id: str, sweep: str) -> dict[str, str]:
    """Test/val metrics and the trial's configuration as model version tags."""
    metrics, tags = run.data.metrics, run.data.tags
    out = {
        "sweep": sweep,
        "sweep_parent_run_id": parent_run_id,
        "student": tags.get(tracking.STUDENT_TAG, ""),
        "variant": tags.get(tracking.VARIANT_TAG, ""),
        "dataset_fingerprint": tags.get("dataset_fingerprint", ""),
        "teacher_artifact": tags.get("teacher_artifact", ""),
        "config": json.dumps(run.data.params, sort_keys=True)[:5000],
    }
    for name in TAGGED_METRICS:
        for split, prefix in (("val", "best_val"), ("test", "test")):
            key = metric_key(name, prefix)
            if key in metrics:
                out[metric_key(name, split)] = f"{metrics[key]:.6f}"
    return out

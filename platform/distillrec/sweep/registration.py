"""Register a dataset sweep's best trial as a version of ``distillrec-<dataset>``; ``@champion``
follows it only when :mod:`distillrec.sweep.promotion` says it is better than the current one.

"Best" is the highest validation NDCG@20 among finished trials (test metrics never choose a
model). The registered model is the one ``train()`` logged in that trial's run; its version is
tagged with the val/test metrics, the data it was selected on and the trial's configuration, and
described in words, so the registry alone says what each version is.
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
    VAL_METRIC,
    metric_key,
    registered_model_name,
)
from distillrec.sweep import tracking

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
    promoted: bool = True  # False: registered as a candidate, ``@champion`` stayed where it was
    reason: str = ""  # the promotion rule's sentence (why it moved or did not)
    champion_version: str = ""  # the version ``@champion`` points at after this sweep


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
    uri: str, parent_run_id: str, dataset: str, *, sweep: str, force: bool = False
) -> RegisteredChampion | None:
    """Register the best trial's model as a candidate version and let the promotion rule decide
    whether it takes ``@champion`` (see :mod:`distillrec.sweep.promotion`); None if no trial."""
    import mlflow

    from distillrec.sweep import promotion

    best = best_trial_run(uri, parent_run_id)
    if best is None:
        return None
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    name = registered_model_name(dataset)
    client = tracking.client(uri)
    version = registered_version_of(client, name, best.info.run_id)  # a resumed sweep: reuse it
    if version is None:
        version = mlflow.register_model(model_uri(best), name)
    version_id = str(version.version)
    tags = champion_tags(best, parent_run_id, sweep)
    for key, value in tags.items():
        client.set_model_version_tag(name, version_id, key, value)
    client.update_model_version(name, version_id, description=version_description(best, sweep))
    candidate = promotion.standing_of(client.get_model_version(name, version_id), VAL_METRIC)
    current = current_champion(client, name)
    standing = promotion.standing_of(current, VAL_METRIC) if current is not None else None
    decision = promotion.decide(candidate, standing, force=force)
    promotion.record(client, name, candidate, decision, sweep=sweep, alias=CHAMPION_ALIAS)
    champion_version = version_id if decision.promote else str(current.version)
    for key, value in {
        "distillrec.champion": f"{name}/{champion_version}",
        "distillrec.champion_candidate": f"{name}/{version_id}",
        "distillrec.champion_decision": decision.outcome,
        "distillrec.champion_reason": decision.reason,
    }.items():
        client.set_tag(parent_run_id, key, value)
    metrics = best.data.metrics
    return RegisteredChampion(
        name=name,
        version=version_id,
        run_id=best.info.run_id,
        student=best.data.tags.get(tracking.STUDENT_TAG, ""),
        variant=best.data.tags.get(tracking.VARIANT_TAG, ""),
        val_ndcg20=metrics[SELECTION_KEY],
        test_ndcg20=metrics.get(TEST_SELECTION_KEY, float("nan")),
        promoted=decision.promote,
        reason=decision.reason,
        champion_version=champion_version,
    )


def registered_version_of(client: Any, name: str, run_id: str) -> Any | None:
    """The version already registered from ``run_id`` (a resumed sweep), or None."""
    from mlflow.exceptions import MlflowException

    try:
        found = client.search_model_versions(f"name = '{name}' and run_id = '{run_id}'")
    except MlflowException:
        return None
    return found[0] if found else None


def version_description(run: Any, sweep: str) -> str:
    """A readable first line for the registry page: what the version is and how good it was."""
    tags, metrics = run.data.tags, run.data.metrics
    parts = [
        f"{tags.get(tracking.STUDENT_TAG, '?')} ({tags.get(tracking.VARIANT_TAG, '?')}) on "
        f"{tags.get(tracking.DATASET_TAG, tags.get('dataset', '?'))}, best trial of sweep "
        f"{sweep} (run {run.info.run_name}, {run.info.run_id})."
    ]
    shown = [
        f"{split} {name.upper()} {metrics[key]:.4f}"
        for split, prefix in (("val", "best_val"), ("test", "test"))
        for name in ("ndcg@20", "hr@20")
        if (key := metric_key(name, prefix)) in metrics
    ]
    if shown:
        parts.append(", ".join(shown) + ".")
    return " ".join(parts)


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

    from distillrec.errors import UserError

    models = mlflow.search_logged_models(
        experiment_ids=[run.info.experiment_id],
        filter_string=f"source_run_id = '{run.info.run_id}'",
        output_format="list",
    )
    if not models:
        raise UserError(f"MLflow run {run.info.run_id}: no logged model to register")
    return f"models:/{models[0].model_id}"


def champion_tags(run: Any, parent_run_id: str, sweep: str) -> dict[str, str]:
    """Test/val metrics, the data and the trial's configuration as model version tags."""
    from distillrec.sweep import promotion

    metrics, tags = run.data.metrics, run.data.tags
    out = {
        "sweep": sweep,
        "sweep_parent_run_id": parent_run_id,
        "student": tags.get(tracking.STUDENT_TAG, ""),
        "variant": tags.get(tracking.VARIANT_TAG, ""),
        promotion.FINGERPRINT_TAG: tags.get("dataset_fingerprint", ""),
        promotion.SPLIT_TAG: tags.get("dataset_split", ""),
        promotion.SELECTION_METRIC_TAG: VAL_METRIC,
        "teacher_artifact": tags.get("teacher_artifact", ""),
        "config": json.dumps(run.data.params, sort_keys=True)[:5000],
    }
    for name in TAGGED_METRICS:
        for split, prefix in (("val", "best_val"), ("test", "test")):
            key = metric_key(name, prefix)
            if key in metrics:
                out[metric_key(name, split)] = f"{metrics[key]:.6f}"
    return out

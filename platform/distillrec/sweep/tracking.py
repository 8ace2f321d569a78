"""MLflow bookkeeping of a sweep: one parent run per dataset, the trials' runs nested under it.

Trials run ``distillrec.training.train``, which opens its own MLflow run; the trial passes the
parent (``mlflow.parentRunId``) and its own tags as ``run_tags``, so from its first epoch even a
trial stopped early by ASHA appears nested in the UI. Metric names follow training's
(``val_ndcg_20``: MLflow rejects ``@``); a finished trial's run holds ``best_val_*`` and ``test_*``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from distillrec.contracts import SELECTION_KEY

PARENT_TAG = "mlflow.parentRunId"
KIND_TAG = "distillrec.kind"  # "sweep"/"study" (parent) or "trial" (child)
SWEEP_TAG = "distillrec.sweep"
DATASET_TAG = "distillrec.dataset"
FINGERPRINT_TAG = "distillrec.dataset_fingerprint"
TEACHER_TAG = "distillrec.teacher_artifact"
STUDENT_TAG = "distillrec.student"
VARIANT_TAG = "distillrec.variant"
SEED_TAG = "distillrec.seed"
STUDY_TAG = "distillrec.study"
TRIAL_TAG = "distillrec.trial_id"
OUTCOME_TAG = "distillrec.trial_outcome"  # "stopped" on runs ASHA or an interruption cut off
STATE_FILE = "distillrec_sweep.json"


def client(uri: str) -> Any:
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def experiment_id(uri: str, experiment: str) -> str:
    """Create the experiment if needed (artifacts beside a sqlite store) and return its id."""
    import mlflow

    from distillrec.runtime import setup_mlflow

    setup_mlflow(uri, experiment)
    return mlflow.get_experiment_by_name(experiment).experiment_id


def start_parent_run(
    uri: str, experiment: str, *, run_name: str, tags: dict[str, str], params: dict[str, Any]
) -> str:
    """Create the dataset sweep's parent run (status RUNNING until :func:`finish_parent`)."""
    mlf = client(uri)
    run = mlf.create_run(experiment_id(uri, experiment), run_name=run_name, tags=tags)
    for key, value in params.items():
        mlf.log_param(run.info.run_id, key, _param_text(value))
    return run.info.run_id


def resumed_parent(uri: str, state_dir: Path, resume: bool) -> str | None:
    """When resuming, the parent run recorded in ``state_dir`` (reopened), else None."""
    state = read_state(state_dir)
    if resume and state.get("parent_run_id"):
        reopen_parent_run(uri, state["parent_run_id"])
        return state["parent_run_id"]
    return None


def new_parent_run(
    uri: str,
    experiment: str,
    state_dir: Path,
    *,
    run_name: str,
    tags: dict[str, str],
    params: dict[str, Any],
    state: dict[str, Any],
) -> str:
    """Create a parent run (sweep or study) and record its id in ``state_dir`` for --resume."""
    run_id = start_parent_run(uri, experiment, run_name=run_name, tags=tags, params=params)
    write_state(state_dir, {"parent_run_id": run_id, **state})
    return run_id


def reopen_parent_run(uri: str, run_id: str) -> None:
    """A resumed sweep keeps its parent run: mark it running again, close stale trial runs."""
    client(uri).update_run(run_id, status="RUNNING")
    close_stale_children(uri, run_id)


def finish_parent(uri: str, run_id: str, *, failed: bool = False) -> None:
    client(uri).set_terminated(run_id, status="FAILED" if failed else "FINISHED")


def child_runs(uri: str, parent_run_id: str, *, finished_only: bool = False) -> list[Any]:
    """The trial runs nested under a parent run."""
    mlf = client(uri)
    parent = mlf.get_run(parent_run_id)
    query = f"tags.`{PARENT_TAG}` = '{parent_run_id}'"
    if finished_only:
        query += " and attributes.status = 'FINISHED'"
    runs: list[Any] = []
    token = None
    while True:
        page = mlf.search_runs(
            [parent.info.experiment_id], query, max_results=500, page_token=token
        )
        runs.extend(page)
        token = page.token
        if not token:
            return runs


def finished_trial_run(uri: str, parent_run_id: str, trial_id: str) -> Any | None:
    """A FINISHED run of this trial with its final metrics (a trial re-run after a resume)."""
    for run in child_runs(uri, parent_run_id, finished_only=True):
        tags, metrics = run.data.tags, run.data.metrics
        if tags.get(TRIAL_TAG) == trial_id and SELECTION_KEY in metrics:
            return run
    return None


def final_metrics_of(run: Any) -> dict[str, Any]:
    """The Tune report of a finished trial run: ``val_*``/``test_*`` as the trial reports them."""
    metrics = run.data.metrics
    out: dict[str, Any] = {
        key.removeprefix("best_"): value
        for key, value in metrics.items()
        if key.startswith("best_val_") or key.startswith("test_")
    }
    out["best_epoch"] = int(metrics.get("best_epoch", 0))
    out["mlflow_run_id"] = run.info.run_id
    return out


def close_stale_children(uri: str, parent_run_id: str) -> int:
    """Trial runs still RUNNING (stopped by ASHA or an interruption) become KILLED, tagged."""
    mlf = client(uri)
    stale = [r for r in child_runs(uri, parent_run_id) if r.info.status == "RUNNING"]
    for run in stale:
        mlf.set_tag(run.info.run_id, OUTCOME_TAG, "stopped")
        mlf.set_terminated(run.info.run_id, status="KILLED")
    return len(stale)


def read_state(experiment_dir: Path) -> dict[str, Any]:
    path = experiment_dir / STATE_FILE
    return json.loads(path.read_text()) if path.is_file() else {}


def write_state(experiment_dir: Path, state: dict[str, Any]) -> None:
    from distillrec.atomic import write_json_atomic

    experiment_dir.mkdir(parents=True, exist_ok=True)
    write_json_atomic(experiment_dir / STATE_FILE, state)


def latest_parent_run(uri: str, experiment: str, dataset: str) -> Any | None:
    """The most recent sweep parent run for ``dataset`` in ``experiment`` (None if none)."""
    import mlflow

    mlflow.set_tracking_uri(uri)
    exp = mlflow.get_experiment_by_name(experiment)
    if exp is None:
        return None
    query = f"tags.`{KIND_TAG}` = 'sweep' and tags.`{DATASET_TAG}` = '{dataset}'"
    runs = client(uri).search_runs(
        [exp.experiment_id], query, order_by=["attributes.start_time DESC"], max_results=1
    )
    return runs[0] if runs else None


def _param_text(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)
    return text[:6000]

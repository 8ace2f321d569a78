"""MLflow bookkeeping for one training run: params, tags, per-epoch and final metrics.

Metric names follow :func:`distillrec.contracts.split_metrics` (val's ``hr@20``: ``val_hr_20``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from distillrec.contracts import split_metrics
from distillrec.training.config import TrainConfig


def flat_params(config: TrainConfig) -> dict[str, Any]:
    """The config as dotted MLflow params (``distill.lam`` ...)."""
    out: dict[str, Any] = {}
    for key, value in config.model_dump().items():
        if isinstance(value, dict):
            out.update({f"{key}.{sub}": v for sub, v in value.items()})
        else:
            out[key] = value
    return out


@contextlib.contextmanager
def mlflow_run(config: TrainConfig, run_name: str, tags: dict[str, str]) -> Iterator[str]:
    """Start a run (nested when one is active, e.g. under a sweep parent); yield its id."""
    import mlflow

    from distillrec.runtime import setup_mlflow

    setup_mlflow(config.mlflow.tracking_uri, config.mlflow.experiment)
    nested = mlflow.active_run() is not None
    with mlflow.start_run(run_name=run_name, nested=nested, tags=tags) as run:
        mlflow.log_params(flat_params(config))
        yield run.info.run_id


def log_split_metrics(split: str, metrics: dict[str, float], step: int | None = None) -> None:
    import mlflow

    mlflow.log_metrics(split_metrics(split, metrics), step=step)

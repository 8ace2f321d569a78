"""MLflow bookkeeping for one training run: params, tags, per-epoch and final metrics.

Metric names follow :func:`distillrec.contracts.split_metrics` (val's ``hr@20``: ``val_hr_20``).
"""

from __future__ import annotations

import contextlib
import os
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


PER_EXAMPLE_DIR = "per_example"


def per_example_artifact(split: str) -> str:
    """Run-relative path of a split's per-example ranks: ``per_example/test_ranks.parquet``."""
    return f"{PER_EXAMPLE_DIR}/{split}_ranks.parquet"


def log_per_example_ranks(split: str, example_ids, ranks) -> None:
    """Log ``example_id, rank`` (0-based target rank) of every example of ``split`` to the
    active run, so paired statistics can resample examples without re-reading the split."""
    import tempfile
    from pathlib import Path

    import mlflow
    import pandas as pd

    frame = pd.DataFrame({"example_id": example_ids, "rank": ranks}).astype("int64")
    with tempfile.TemporaryDirectory(prefix="distillrec-ranks-") as tmp:
        path = Path(tmp) / Path(per_example_artifact(split)).name
        frame.to_parquet(path, index=False)
        mlflow.log_artifact(str(path), artifact_path=PER_EXAMPLE_DIR)


def load_per_example_ranks(uri: str, run_id: str, split: str = "test"):
    """The ``example_id, rank`` frame a run logged (see :func:`log_per_example_ranks`)."""
    import tempfile

    import mlflow
    import pandas as pd
    from mlflow.environment_variables import MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR as BAR

    previous = os.environ.get(BAR.name)
    os.environ[BAR.name] = "false"  # one small file per run: a bar each would flood the report
    try:
        with tempfile.TemporaryDirectory(prefix="distillrec-ranks-") as tmp:
            local = mlflow.artifacts.download_artifacts(
                run_id=run_id,
                artifact_path=per_example_artifact(split),
                dst_path=tmp,
                tracking_uri=uri,
            )
            return pd.read_parquet(local)
    finally:
        if previous is None:
            os.environ.pop(BAR.name, None)
        else:
            os.environ[BAR.name] = previous

"""``train()``: the one training loop (used by ``distillrec train`` and every Ray Tune trial).

Adam on the DLLM2Rec loss, one validation pass per epoch, early stopping on val NDCG@20, test
metrics from the best-validation epoch only (the reference code selects on test; we do not), the
best model saved as safetensors + json and logged to MLflow.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from distillrec.contracts import SELECTION_METRIC
from distillrec.training.config import TrainConfig
from distillrec.training.setup import TrainingSetup, prepare_training

ReportFn = Callable[[int, dict[str, float]], None]


@dataclass
class TrainResult:
    """What a run produced; ``val``/``test`` hold ``hr@1..20`` and ``ndcg@1..20``."""

    best_epoch: int
    val: dict[str, float]
    test: dict[str, float]
    mlflow_run_id: str | None
    model_dir: str
    history: list[dict[str, float]] = field(default_factory=list)
    rd_coverage: float = 0.0  # share of training rows with a ranking-distillation term
    test_example_ids: np.ndarray | None = None  # with test_ranks: the per-example test results
    test_ranks: np.ndarray | None = None  # 0-based target rank of each test example
    model_uri: str | None = None  # ``models:/<model_id>`` of the logged model (None: not logged)

    def summary(self) -> dict[str, Any]:
        """The ``--output-json`` payload."""
        return {
            "best_epoch": self.best_epoch,
            "val": self.val,
            "test": self.test,
            "mlflow_run_id": self.mlflow_run_id,
            "model_uri": self.model_uri,
            "model_dir": self.model_dir,
        }


def train(
    config: TrainConfig,
    *,
    teacher_dir: str | Path | None = None,
    report_fn: ReportFn | None = None,
    run_tags: dict[str, str] | None = None,
    trial: str | None = None,
    variant: str | None = None,
) -> TrainResult:
    """Train one student as ``config`` says; ``teacher_dir`` overrides ``config.teacher``.

    ``report_fn(epoch, metrics)`` is called after every epoch with ``train_loss``, ``val_hr@k``,
    ``val_ndcg@k`` and ``epoch_seconds``. ``run_tags`` are added to the MLflow run (a sweep passes
    its parent run and trial ids here); ``trial`` (a Tune trial index) ends the run name and
    ``variant`` (a study's named variant, e.g. ``rd_only``) replaces the one read off the
    distillation settings in the run name and tags (see :mod:`distillrec.training.naming`).
    The run records the git commit of this checkout and, in its description, the teacher.

    Test is read once, after training, from the best-validation weights: its per-example ranks
    give the test metrics and are logged as ``per_example/test_ranks.parquet`` (what a study's
    paired bootstrap resamples).
    """
    from distillrec.atomic import check_writable
    from distillrec.provenance import source_tags
    from distillrec.ranking_metrics import metrics_from_ranks
    from distillrec.runtime import check_tracking_store, tracking_uri
    from distillrec.training.teacher_info import NOTE_TAG, run_note
    from distillrec.training.tracking import log_per_example_ranks, log_split_metrics, mlflow_run

    check_writable(config.output_dir, folder=True)  # fail now, not after training
    check_tracking_store(tracking_uri(config.mlflow.tracking_uri))
    if config.num_threads:
        torch.set_num_threads(config.num_threads)
    setup = prepare_training(config, teacher_dir)
    setup.variant_name = variant
    tags = {**source_tags(), **setup.tags(), **(run_tags or {})}
    model_uri = None
    with mlflow_run(config, setup.run_name(trial), tags) as run_id:
        import mlflow

        mlflow.set_tag(NOTE_TAG, run_note(tags, mlflow.get_tracking_uri()))
        best_epoch, best_val, history = _fit(setup, config, report_fn)
        test_ranks = setup.ranks("test")
        test = metrics_from_ranks(test_ranks)
        test_ids = setup.splits["test"].example_id
        log_per_example_ranks("test", test_ids, test_ranks.numpy())
        log_split_metrics("best_val", best_val)
        log_split_metrics("test", test)
        log_split_metrics("best", {"epoch": best_epoch})
        model_dir = setup.save_best(run_id, {"val": best_val, "test": test, "epoch": best_epoch})
        if config.mlflow.log_model:
            info = setup.log_model({"val": best_val, "test": test, "best_epoch": best_epoch})
            model_uri = info.model_uri
    return TrainResult(
        best_epoch=best_epoch,
        val=best_val,
        test=test,
        mlflow_run_id=run_id,
        model_dir=str(model_dir),
        history=history,
        rd_coverage=setup.rd_coverage,
        test_example_ids=test_ids,
        test_ranks=test_ranks.numpy(),
        model_uri=model_uri,
    )


def _fit(
    setup: TrainingSetup, config: TrainConfig, report_fn: ReportFn | None
) -> tuple[int, dict[str, float], list[dict[str, float]]]:
    """Epoch loop with early stopping; leaves the best-validation weights in ``setup.model``."""
    from distillrec.training.tracking import log_split_metrics

    history: list[dict[str, float]] = []
    if not setup.model.trainable or config.epochs == 0:
        return 0, setup.evaluate("val"), history
    best_epoch, best_val, best_state, stale = 0, {}, None, 0
    optimizer = torch.optim.Adam(
        setup.model.parameters(), lr=config.lr, eps=1e-8, weight_decay=config.weight_decay
    )
    generator = torch.Generator().manual_seed(config.seed)
    best_score = -np.inf
    for epoch in range(1, config.epochs + 1):
        started = time.perf_counter()
        train_loss = setup.train_epoch(optimizer, generator)
        val = setup.evaluate("val")
        row = {"epoch": epoch, "train_loss": train_loss, "epoch_seconds": 0.0}
        row.update({f"val_{k}": v for k, v in val.items()})
        row["epoch_seconds"] = time.perf_counter() - started
        history.append(row)
        log_split_metrics("val", val, step=epoch)
        _log_epoch(row, epoch)
        if report_fn is not None:
            report_fn(epoch, dict(row))
        if val[SELECTION_METRIC] > best_score:
            best_score, best_epoch, best_val, stale = val[SELECTION_METRIC], epoch, val, 0
            best_state = copy.deepcopy(setup.model.state_dict())
        else:
            stale += 1
            if stale >= config.patience:
                break
    if best_state is not None:
        setup.model.load_state_dict(best_state)
    return best_epoch, best_val, history


def _log_epoch(row: dict[str, float], epoch: int) -> None:
    import mlflow

    mlflow.log_metrics(
        {"train_loss": row["train_loss"], "epoch_seconds": row["epoch_seconds"]}, step=epoch
    )

"""`distillrec train`: one student, with or without distillation (owned by the training stage)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from distillrec.errors import exit_on_user_error

if TYPE_CHECKING:
    from distillrec.training import TrainResult


@exit_on_user_error
def train_command(
    config: Path = typer.Option(
        ..., "--config", "-c", help="Training YAML (configs/train/*.yaml)."
    ),
    overrides: list[str] | None = typer.Argument(
        None, help="key=value overrides, e.g. student=gru4rec distill.lam=0 epochs=5 seed=3"
    ),
    teacher: Path | None = typer.Option(None, "--teacher", help="Teacher artifact folder."),
    output_json: Path | None = typer.Option(
        None, "--output-json", help="Write best_epoch, val, test and mlflow_run_id here."
    ),
) -> None:
    """Train one student: one line per epoch, then the best-validation epoch's val/test metrics."""
    from distillrec.atomic import check_writable, write_json_atomic
    from distillrec.config import load_config
    from distillrec.training import TrainConfig, train

    cfg = load_config(TrainConfig, config, overrides or [])
    if output_json is not None:
        check_writable(output_json, folder=False)  # before training, not after
    started = time.perf_counter()
    result = train(cfg, teacher_dir=teacher, report_fn=EpochPrinter(cfg.epochs))
    if output_json is not None:
        write_json_atomic(output_json, result.summary())
    for line in summary_lines(result, time.perf_counter() - started):
        typer.echo(line)


class EpochPrinter:
    """``report_fn`` of :func:`distillrec.training.train`: a line per epoch, best so far marked."""

    def __init__(self, max_epochs: int) -> None:
        self.width = len(str(max_epochs))
        self.max_epochs = max_epochs
        self.best = float("-inf")

    def __call__(self, epoch: int, metrics: dict[str, float]) -> None:
        ndcg = metrics["val_ndcg@20"]
        mark = ""
        if ndcg > self.best:
            self.best, mark = ndcg, "  *best"
        typer.echo(
            f"epoch {epoch:>{self.width}}/{self.max_epochs}  "
            f"loss {metrics['train_loss']:.4f}  "
            f"val NDCG@20 {ndcg:.4f}  HR@20 {metrics['val_hr@20']:.4f}  "
            f"{metrics['epoch_seconds']:.1f} s{mark}"
        )


def summary_lines(result: TrainResult, seconds: float) -> list[str]:
    """The final summary: epochs run, the selected epoch's val and test metrics, where it went."""
    ran = len(result.history)
    return [
        f"done in {seconds:.1f} s: {ran} epoch{'s' * (ran != 1)}, best epoch {result.best_epoch} "
        "(selected on val NDCG@20)",
        f"  val   NDCG@20 {result.val['ndcg@20']:.4f}  HR@20 {result.val['hr@20']:.4f}",
        f"  test  NDCG@20 {result.test['ndcg@20']:.4f}  HR@20 {result.test['hr@20']:.4f}",
        f"  mlflow run {result.mlflow_run_id}  model {result.model_dir}",
    ]

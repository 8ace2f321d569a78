"""`distillrec train`: one student, with or without distillation (owned by the training stage)."""

from __future__ import annotations

from pathlib import Path

import typer

from distillrec.errors import exit_on_user_error


@exit_on_user_error
def train_command(
    config: Path = typer.Option(..., "--config", help="Training YAML (configs/train/*.yaml)."),
    overrides: list[str] | None = typer.Argument(
        None, help="key=value overrides, e.g. student=gru4rec distill.lam=0 epochs=5 seed=3"
    ),
    teacher: Path | None = typer.Option(None, "--teacher", help="Teacher artifact folder."),
    output_json: Path | None = typer.Option(
        None, "--output-json", help="Write best_epoch, val, test and mlflow_run_id here."
    ),
) -> None:
    """Train one student; prints the best-validation epoch and its val/test metrics."""
    from distillrec.atomic import check_writable, write_json_atomic
    from distillrec.config import load_config
    from distillrec.training import TrainConfig, train

    cfg = load_config(TrainConfig, config, overrides or [])
    if output_json is not None:
        check_writable(output_json, folder=False)  # before training, not after
    result = train(cfg, teacher_dir=teacher)
    summary = result.summary()
    if output_json is not None:
        write_json_atomic(output_json, summary)
    typer.echo(
        f"best epoch {result.best_epoch}: "
        f"val hr@20 {result.val['hr@20']:.4f} ndcg@20 {result.val['ndcg@20']:.4f} | "
        f"test hr@20 {result.test['hr@20']:.4f} ndcg@20 {result.test['ndcg@20']:.4f} | "
        f"mlflow run {result.mlflow_run_id} | model {result.model_dir}"
    )

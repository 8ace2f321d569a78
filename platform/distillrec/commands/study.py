"""`distillrec study`: paired multi-seed comparisons of distillation variants (owned by studies)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from distillrec.commands.sweep import FAILED_TRIALS_EXIT_CODE, INTERRUPTED_EXIT_CODE
from distillrec.errors import exit_on_user_error


@exit_on_user_error
def study_command(
    config: Annotated[Path, typer.Option("--config", "-c", help="Study YAML (configs/studies/).")],
    resume: Annotated[
        bool, typer.Option("--resume", help="Continue the latest run of this study.")
    ] = False,
    override: Annotated[
        list[str] | None, typer.Argument(help="key=value overrides, e.g. epochs=5 seeds=[0,1]")
    ] = None,
) -> None:
    """Students x variants x seeds, paired; one MLflow parent run; report with paired CIs.

    Exits 1 when runs failed (unless the config sets allow_failed_trials), 130 when
    interrupted."""
    from distillrec.study.config import load_study_config
    from distillrec.study.runner import run_study

    cfg = load_study_config(config, override)
    print(
        f"study {cfg.name}: {cfg.num_runs} runs ({len(cfg.students)} students x "
        f"{len(cfg.variants)} variants x {len(cfg.seeds)} seeds x {len(cfg.datasets)} datasets)"
    )
    result = run_study(cfg, resume=resume)
    print(
        f"study {result.name}: {result.num_runs} runs ({result.num_errors} failed), parent run "
        f"{result.parent_run_id}, Tune folder {result.study_dir}"
    )
    for dataset, files in result.report_files.items():
        print(files["md"].read_text(), end="")
        for kind, path in files.items():
            print(f"  {dataset} report ({kind}): {path}")
    if result.interrupted:
        print(f"interrupted: continue with `distillrec study --config {config} --resume`")
        raise typer.Exit(INTERRUPTED_EXIT_CODE)
    if result.warning:
        print(f"warning: {result.warning}", file=sys.stderr)
    if result.error:
        print(f"error: {result.error}", file=sys.stderr)
        raise typer.Exit(FAILED_TRIALS_EXIT_CODE)

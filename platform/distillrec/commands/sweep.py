"""`distillrec sweep` and `distillrec report` (owned by the sweep stage)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from distillrec.errors import exit_on_user_error

INTERRUPTED_EXIT_CODE = 130  # like a shell after Ctrl-C
FAILED_TRIALS_EXIT_CODE = 1  # trials failed and the config does not allow it


@exit_on_user_error
def sweep_command(
    config: Annotated[Path, typer.Option("--config", "-c", help="Sweep YAML (configs/sweeps/).")],
    resume: Annotated[
        bool, typer.Option("--resume", help="Continue the latest sweep of this config.")
    ] = False,
    override: Annotated[
        list[str] | None, typer.Argument(help="key=value overrides, e.g. epochs=5")
    ] = None,
    force: Annotated[
        bool,
        typer.Option(
            "--force",
            help="Point @champion at this sweep's best trial even if it does not beat the "
            "current champion (or was selected on other data).",
        ),
    ] = False,
) -> None:
    """Ray Tune sweep of students x distillation settings; one Tuner per dataset."""
    from distillrec.sweep.config import load_sweep_config
    from distillrec.sweep.tuner import run_sweep

    cfg = load_sweep_config(config, override)  # keys (naming overrides); inputs: run_sweep
    results = run_sweep(cfg, resume=resume, force_champion=force)
    for result in results:
        print(summary_line(result))
        for kind, path in result.report_files.items():
            print(f"  report ({kind}): {path}")
    if any(r.interrupted for r in results):
        print(f"interrupted: continue with `distillrec sweep --config {config} --resume`")
        raise typer.Exit(INTERRUPTED_EXIT_CODE)
    for result in results:
        if result.warning:
            print(f"warning: {result.warning}", file=sys.stderr)
        if result.error:
            print(f"error: {result.error}", file=sys.stderr)
    if any(r.error for r in results):
        raise typer.Exit(FAILED_TRIALS_EXIT_CODE)


@exit_on_user_error
def report_command(
    dataset: Annotated[str, typer.Option("--dataset", "-d", help="Dataset name.")],
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            help="Folder (default reports/<dataset>/<sweep>-<run id[:8]>, or "
            "reports/studies/<study>/<dataset>).",
        ),
    ] = None,
    kind: Annotated[
        str, typer.Option("--kind", help="sweep (latest sweep) or study (latest study).")
    ] = "sweep",
    study: Annotated[
        str | None, typer.Option("--study", help="Report this study (implies --kind study).")
    ] = None,
    run_id: Annotated[
        str | None,
        typer.Option("--run-id", help="The sweep's MLflow parent run (default: the latest)."),
    ] = None,
    experiment: Annotated[
        str | None,
        typer.Option(
            "--experiment", help="MLflow experiment (default distillrec-sweeps / -studies)."
        ),
    ] = None,
    tracking_uri: Annotated[
        str | None, typer.Option("--tracking-uri", help="MLflow store (default: project's).")
    ] = None,
) -> None:
    """A sweep's students x {no distillation, best DLLM2Rec} (default the dataset's latest sweep;
    each sweep's report gets its own folder), or a study's students x variants with paired 95%
    CIs, for one dataset."""
    from distillrec.errors import UserError
    from distillrec.runtime import tracking_uri as resolve_tracking_uri

    uri = resolve_tracking_uri(tracking_uri)
    if study is not None:
        kind = "study"
    if kind == "study":
        from distillrec.study.config import DEFAULT_EXPERIMENT as STUDY_EXPERIMENT
        from distillrec.study.report import report_for_study

        if run_id is not None:
            raise UserError("--run-id: names a sweep's parent run; a study is chosen by --study")
        folder = out or Path("reports") / "studies" / (study or "latest") / dataset
        files = report_for_study(uri, experiment or STUDY_EXPERIMENT, dataset, folder, study)
    elif kind == "sweep":
        from distillrec.sweep.config import DEFAULT_EXPERIMENT as SWEEP_EXPERIMENT
        from distillrec.sweep.report import report_for_dataset

        experiment = experiment or SWEEP_EXPERIMENT
        files = report_for_dataset(uri, experiment, dataset, out, parent_run_id=run_id)
    else:
        raise UserError(f"--kind: {kind!r} is not sweep or study")
    print(files["md"].read_text(), end="")
    for name, path in files.items():
        print(f"report ({name}): {path}")


def summary_line(result) -> str:  # noqa: ANN001 - a distillrec.sweep.tuner.DatasetSweep
    """One line per dataset: trials, failures, champion."""
    text = (
        f"{result.dataset}: {result.num_trials} trials ({result.num_errors} failed), "
        f"parent run {result.parent_run_id}, Tune folder {result.experiment_path}"
    )
    if result.champion is not None:
        c = result.champion
        best = (
            f"best trial models:/{c.name}/{c.version} ({c.student}, {c.variant}, "
            f"val NDCG@20 {c.val_ndcg20:.4f}, test NDCG@20 {c.test_ndcg20:.4f})"
        )
        if c.promoted:
            text += f"\n  champion: {best} is now @champion ({c.reason})"
        else:
            text += (
                f"\n  champion: kept models:/{c.name}/{c.champion_version} as @champion; "
                f"{best} not promoted ({c.reason})"
            )
    return text

"""`distillrec data ...`: prepare datasets, print their statistics, export the DLLM2Rec format."""

from __future__ import annotations

from pathlib import Path

import typer

from distillrec.contracts import DATA_ROOT
from distillrec.errors import exit_on_user_error

app = typer.Typer(no_args_is_help=True)


@app.command("prepare")
@exit_on_user_error
def prepare_command(
    dataset: str = typer.Argument(
        ..., help="Dataset name (configs/datasets/<name>.yaml) or a YAML."
    ),
    raw_dir: Path | None = typer.Option(None, "--raw-dir", help="Folder with the raw files."),
    out: Path | None = typer.Option(None, "--out", help="Output folder (default data/<name>/)."),
    data_root: Path = typer.Option(DATA_ROOT, "--data-root", help="Parent of default outputs."),
    overwrite: bool = typer.Option(
        False, "--overwrite", help="Write into a non-empty folder (its other files are kept)."
    ),
    trust_pickle: bool = typer.Option(
        False, "--trust-pickle", help="DLLM2Rec .df files: allow any pickle (runs its code)."
    ),
    overrides: list[str] = typer.Argument(
        None, help="key=value overrides of the dataset YAML, e.g. k_core=5 max_history=20"
    ),
) -> Path:
    """Turn raw logs into next-item examples: items/train/val/test parquet + meta.json."""
    return run_prepare(
        dataset,
        raw_dir=raw_dir,
        out=out,
        data_root=data_root,
        overrides=overrides,
        overwrite=overwrite,
        trust_pickle=trust_pickle,
    )


def run_prepare(
    dataset: str,
    *,
    raw_dir: Path | None = None,
    out: Path | None = None,
    data_root: Path = DATA_ROOT,
    overrides: list[str] | None = None,
    overwrite: bool = False,
    trust_pickle: bool = False,
) -> Path:
    """Prepare, print the summary and the time it took."""
    import time

    from distillrec.data import prepare_dataset
    from distillrec.data.stats import format_summary, summarize

    start = time.perf_counter()
    target = with_overrides(dataset, overrides) if overrides else dataset
    path = prepare_dataset(
        target,
        raw_dir=raw_dir,
        out_dir=out,
        data_root=data_root,
        overwrite=overwrite,
        trust_pickle=trust_pickle,
    )
    seconds = time.perf_counter() - start
    typer.echo(format_summary(summarize(path)))
    typer.echo(f"prepared {path} in {seconds:.2f} s")
    return path


def with_overrides(dataset: str, overrides: list[str]):  # -> DatasetConfig
    """The dataset's config (bundled name or YAML) with ``key=value`` overrides applied."""
    from distillrec.config import apply_overrides, validate
    from distillrec.data.config import DatasetConfig, resolve_config

    data = apply_overrides(resolve_config(dataset).model_dump(), overrides)
    return validate(DatasetConfig, data, dataset, overrides)


@app.command("stats")
@exit_on_user_error
def stats_command(
    path: Path = typer.Argument(..., help="A prepared dataset folder (data/<name>)."),
) -> None:
    """Print a summary of a prepared dataset."""
    from distillrec.data.stats import format_summary, summarize

    typer.echo(format_summary(summarize(path)))


@app.command("export-dllm2rec")
@exit_on_user_error
def export_command(
    path: Path = typer.Argument(..., help="A prepared dataset folder."),
    out: Path = typer.Option(..., "--out", help="Output folder for the DLLM2Rec files."),
    overwrite: bool = typer.Option(
        False, "--overwrite", help="Write into a non-empty folder (its other files are kept)."
    ),
) -> None:
    """Write data_statis.df, train_data.df, val_data.csv, test_data.csv (+ id2name.txt)."""
    from distillrec.data.dllm2rec_format import export_dllm2rec

    written = export_dllm2rec(path, out, overwrite=overwrite)
    typer.echo(f"wrote DLLM2Rec format to {written}")

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
) -> Path:
    """Turn raw logs into next-item examples: items/train/val/test parquet + meta.json."""
    return run_prepare(dataset, raw_dir=raw_dir, out=out, data_root=data_root)


def run_prepare(
    dataset: str,
    *,
    raw_dir: Path | None = None,
    out: Path | None = None,
    data_root: Path = DATA_ROOT,
) -> Path:
    """Prepare, print the summary and the time it took."""
    import time

    from distillrec.data import prepare_dataset
    from distillrec.data.stats import format_summary, summarize

    start = time.perf_counter()
    path = prepare_dataset(dataset, raw_dir=raw_dir, out_dir=out, data_root=data_root)
    seconds = time.perf_counter() - start
    typer.echo(format_summary(summarize(path)))
    typer.echo(f"prepared {path} in {seconds:.2f} s")
    return path


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
) -> None:
    """Write data_statis.df, train_data.df, val_data.csv, test_data.csv (+ id2name.txt)."""
    from distillrec.data.dllm2rec_format import export_dllm2rec

    written = export_dllm2rec(path, out)
    typer.echo(f"wrote DLLM2Rec format to {written}")

"""`distillrec teacher import-dllm2rec`: a teacher made by the DLLM2Rec reference code."""

from __future__ import annotations

from pathlib import Path

import typer

from distillrec.errors import exit_on_user_error


@exit_on_user_error
def import_dllm2rec_command(
    source: Path = typer.Argument(
        ..., help="Folder with myrank_train.txt, confidence_train.txt and all_embeddings.pt."
    ),
    dataset: Path = typer.Option(
        ..., "--dataset", help="Prepared dataset whose train rows match the reference's, in order."
    ),
    out: Path = typer.Option(..., "--out", help="Teacher artifact folder to write."),
) -> None:
    """Convert the reference code's teacher output into a teacher artifact."""
    from distillrec.teacher.import_dllm2rec import import_dllm2rec

    path = import_dllm2rec(source, dataset, out)
    typer.echo(f"wrote teacher artifact {path}")

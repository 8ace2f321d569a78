"""The ``distillrec`` command line: one sub-command per stage of the platform.

Heavy libraries (torch, ray, vllm) are imported inside commands, so ``distillrec --help`` is fast.
"""

from __future__ import annotations

import typer

from distillrec.commands import data, demo, serve, study, sweep, teacher, train

app = typer.Typer(
    help="Distil a slow LLM recommender into fast sequential recommenders (DLLM2Rec) on Ray.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(data.app, name="data", help="Prepare datasets and inspect them.")
app.add_typer(teacher.app, name="teacher", help="Fine-tune the LLM teacher and run its inference.")
app.command("train", help="Train one student, with or without distillation.")(train.train_command)
app.command("sweep", help="Ray Tune sweep: students x distillation settings.")(sweep.sweep_command)
app.command("study", help="Paired multi-seed study: students x variants x seeds, with CIs.")(
    study.study_command
)
app.command("report", help="Distillation report (sweep or study) for a dataset from MLflow.")(
    sweep.report_command
)
app.command("serve", help="Serve the champion student over HTTP (Ray Serve).")(serve.serve_command)
app.command("demo", help="The whole platform end to end on one dataset.")(demo.demo_command)


if __name__ == "__main__":
    app()

"""Load the running service (`distillrec serve`) from this separate process, over loopback: p50/
p95/p99 and errors at a fixed rate, maximum sustained throughput, ratio to the teacher's seconds
per example. Goal on 2 cores: p99 < 50 ms at 200 req/s, no errors. See docs/serving.md."""

import asyncio

import typer

from distillrec.atomic import write_json_atomic
from distillrec.errors import UserError, exit_on_user_error
from distillrec.serving import bench
from distillrec.serving.settings import DEFAULT_HOST, DEFAULT_PORT

P99_GOAL_MS = 50.0


@exit_on_user_error
def main(
    url: str = typer.Option(f"http://{DEFAULT_HOST}:{DEFAULT_PORT}", help="The running service."),
    rate: float = typer.Option(200.0, min=1, help="Fixed-rate phase: requests per second."),
    duration: float = typer.Option(20.0, min=1, max=600, help="Fixed-rate phase: seconds."),
    concurrency: int = typer.Option(32, min=1, max=512, help="Saturation phase: clients."),
    saturate_seconds: float = typer.Option(10.0, min=1, max=600, help="Saturation phase: seconds."),
    warmup_seconds: float = typer.Option(2.0, min=0, max=60, help="Warm-up (not measured)."),
    teacher_artifact: str = typer.Option(None, help="Teacher artifact folder (its manifest)."),
    teacher_seconds_per_example: float = typer.Option(None, min=0, help="Or give it directly."),
    out: str = typer.Option(None, help="Also write the summary as JSON here."),
) -> None:
    if teacher_artifact and teacher_seconds_per_example:
        raise UserError("give --teacher-artifact or --teacher-seconds-per-example, not both")
    teacher_spe = teacher_seconds_per_example or (
        bench.teacher_seconds_per_example(teacher_artifact) if teacher_artifact else None
    )
    load = bench.run_load(
        url.rstrip("/"), rate, duration, concurrency, saturate_seconds, warmup_seconds
    )
    health, results = asyncio.run(load)
    summary = bench.report(health, results, teacher_spe)
    fixed = results[0]
    summary["goal_met"] = fixed.num_errors == 0 and fixed.p99_ms < P99_GOAL_MS
    typer.echo(bench.format_report(summary))
    goal = f"p99 < {P99_GOAL_MS:g} ms at {rate:g} req/s, 0 errors"
    typer.echo(f"goal ({goal}): {'met' if summary['goal_met'] else 'MISSED'}")
    if out:
        write_json_atomic(out, summary)


if __name__ == "__main__":
    typer.run(main)

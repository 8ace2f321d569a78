"""`distillrec demo`: the whole platform end to end on one dataset."""

from __future__ import annotations

from pathlib import Path

import typer

from distillrec.errors import exit_on_user_error


@exit_on_user_error
def demo_command(
    dataset: str = typer.Option("ml-100k", help="Dataset (configs/demo/<dataset>.yaml)."),
    quick: bool = typer.Option(False, "--quick", help="Small budgets: a few minutes on 2 cores."),
    config: Path | None = typer.Option(
        None,
        "--config",
        "-c",
        help="Demo YAML [default: configs/demo/<dataset>.yaml (-quick.yaml with --quick)]",
    ),
    overrides: list[str] = typer.Argument(None, help="key=value overrides, e.g. serve_port=8001"),
) -> None:
    """prepare -> fine-tune teacher -> teacher inference -> sweep -> report -> serve a sample."""
    from distillrec.config import load_config
    from distillrec.demo import run_demo
    from distillrec.demo_config import DemoConfig, load_demo_config
    from distillrec.demo_stages import print_where_to_look

    if config is not None:
        cfg = load_config(DemoConfig, config, overrides or [])
    else:
        cfg = load_demo_config(dataset, quick, overrides or [])
    result = run_demo(cfg)
    print_where_to_look(result, cfg.dataset)

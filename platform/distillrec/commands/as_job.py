"""Run a ``distillrec`` command as a script: the ``jobs/*.py`` entry points of ``ray job submit``.

A job and its CLI command share one typer declaration of their arguments (names, defaults, help),
so the two front doors cannot drift apart; the job only adds what a Ray job does beyond the
command (e.g. reading the prepared data back through Ray Data).
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import typer


def run_as_job(command: Callable[..., Any], argv: list[str] | None = None) -> Any:
    """Parse ``argv`` (default: ``sys.argv[1:]``) with ``command``'s typer arguments, run it and
    return what it returned (None after ``--help``).

    Errors leave as the CLI's do: usage mistakes and :class:`~distillrec.errors.UserError` exit 2
    with one message, ``typer.Exit(code)`` exits ``code``.
    """
    returned: list[Any] = []

    @functools.wraps(command)  # typer reads the wrapped signature: the same options
    def keep_result(*args: Any, **kwargs: Any) -> Any:
        returned.append(command(*args, **kwargs))
        return returned[-1]

    app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
    app.command()(keep_result)
    args = sys.argv[1:] if argv is None else list(argv)
    try:
        app(args=args, prog_name=Path(sys.argv[0]).name)
    except SystemExit as done:  # typer ends every run with one; only a failure goes on
        if done.code not in (0, None):
            raise
    return returned[-1] if returned else None

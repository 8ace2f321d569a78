"""Parse a ``distillrec ...`` command line with the real CLI without running it (for doc tests)."""

from __future__ import annotations

import shlex

import typer
from typer.core import TyperGroup

from distillrec.cli import app

OVERRIDE_PARAMS = {"override", "overrides"}


def words(command: str) -> list[str]:
    """Shell words after ``distillrec``: comments, ``&``, ``[``/``]`` and ``...`` dropped."""
    text = command.replace("[", " ").replace("]", " ").replace("…", " ")
    tokens = shlex.split(text, comments=True)
    return [t for t in tokens if t not in {"&", "...", "|"}][1:]


def parse(tokens: list[str]) -> typer.Context:
    """Resolve sub-commands and parse the leaf command's arguments; return the leaf context.

    Values are converted leniently (placeholders), but the parser itself runs strictly: an
    unknown option raises and a word no parameter takes is left over."""
    command = typer.main.get_command(app)
    ctx = command.make_context("distillrec", list(tokens), resilient_parsing=True)
    while isinstance(command, TyperGroup):
        rest = [*ctx._protected_args, *ctx.args]
        if not rest:
            return ctx  # a group named on its own (e.g. "distillrec teacher")
        name, sub, args = command.resolve_command(ctx, rest)
        assert sub is not None, f"no command {rest[0]!r}"
        parent, command = ctx, sub
        ctx = command.make_context(name, list(args), parent=parent, resilient_parsing=True)
    strict = command.context_class(command, info_name=ctx.info_name, parent=ctx.parent)
    _, left_over, _ = command.make_parser(strict).parse_args(list(args))
    assert not left_over, f"left over: {left_over}"
    for name in OVERRIDE_PARAMS & set(ctx.params):
        bad = [v for v in ctx.params[name] or () if "=" not in v]
        assert not bad, f"not key=value overrides: {bad}"
    return ctx

"""Every ``distillrec ...`` command in README.md and docs/*.md parses with the real CLI.

Commands are taken from inline code spans and from lines of fenced code blocks. Each is parsed by
click (what typer builds) without running it: every sub-command must exist, every option must be
known, nothing may be left over, and trailing arguments of a config-driven command must be
``key=value`` overrides. Placeholders (``N``, ``DIR``) only need to be in the right place, so type
checks are relaxed (resilient parsing); optional parts in ``[...]`` are parsed as if given.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import typer
from cli_parse import OVERRIDE_PARAMS, parse, words

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^```.*?^```", re.S | re.M)
INLINE = re.compile(r"`(distillrec [^`]+)`")


def commands_in(path: Path) -> list[str]:
    """``distillrec ...`` commands of one markdown file, whitespace collapsed."""
    text = path.read_text()
    found = []
    for block in FENCE.findall(text):
        for line in block.splitlines()[1:-1]:
            line = line.strip().removeprefix("$ ")
            if line.startswith("distillrec "):
                found.append(line)
    found += INLINE.findall(FENCE.sub("", text))
    return [" ".join(c.split()) for c in found]


def all_commands() -> list[tuple[str, str]]:
    return [(p.relative_to(ROOT).as_posix(), c) for p in DOCS for c in commands_in(p)]


COMMANDS = all_commands()


def test_the_docs_have_commands_of_every_stage() -> None:
    readme = {c.split()[1] for f, c in COMMANDS if f == "README.md"}
    assert {"data", "teacher", "train", "sweep", "report", "serve", "demo"} <= readme


@pytest.mark.parametrize(("doc", "command"), COMMANDS, ids=[f"{f}: {c}" for f, c in COMMANDS])
def test_documented_command_parses(doc: str, command: str) -> None:
    ctx = parse(words(command))
    config = ctx.params.get("config")
    if config and str(config).startswith("configs/") and "<" not in str(config):
        assert (ROOT / str(config)).is_file(), f"{doc}: {config} does not exist"


@pytest.mark.parametrize(
    "command",
    [
        "distillrec data export-dllm2rec data/ml-100k OUT",  # OUT is an option: --out OUT
        "distillrec trian --config x.yaml",
        "distillrec train --confg x.yaml",
        "distillrec sweep -c x.yaml --resum",
        "distillrec train -c x.yaml student",  # not key=value
    ],
)
def test_wrong_commands_do_not_parse(command: str) -> None:
    with pytest.raises((AssertionError, typer.TyperException)):
        parse(words(command))


CONFIG_COMMANDS = [
    ["train"],
    ["sweep"],
    ["teacher", "finetune"],
    ["teacher", "infer"],
    ["teacher", "tune"],
    ["demo"],
]


@pytest.mark.parametrize("path", CONFIG_COMMANDS, ids=" ".join)
def test_config_driven_commands_take_c_and_overrides(path: list[str]) -> None:
    ctx = parse([*path, "-c", "configs/x.yaml", "a.b=1", "c=2"])
    assert str(ctx.params["config"]) == "configs/x.yaml"
    overrides = next(ctx.params[n] for n in OVERRIDE_PARAMS if n in ctx.params)
    assert list(overrides) == ["a.b=1", "c=2"]

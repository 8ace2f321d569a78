"""YAML configs validated by pydantic, with ``key.sub=value`` command-line overrides.

Every config schema subclasses :class:`StrictModel` (unknown keys fail loudly). Validation errors
become a one-line :class:`~distillrec.errors.UserError` naming the field and the value, and where
the bad value came from: the ``key=value`` override when one set it, else the YAML file. An unknown
key gets a "did you mean" from the schema's own field names.
"""

from __future__ import annotations

import difflib
import re
import types
import typing
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from distillrec.errors import UserError

M = TypeVar("M", bound=BaseModel)

SAFE_NAME = re.compile(r"^[A-Za-z0-9._-]+$")


class StrictModel(BaseModel):
    """Base for config schemas: unknown keys are errors, defaults live in the schema."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)


def check_safe_name(value: str, what: str = "name") -> str:
    """Names that become paths: letters, digits, '-', '_' and '.', and not '.'/'..'."""
    if not SAFE_NAME.match(value) or value in {".", ".."}:
        raise ValueError(f"{what} {value!r} may only use letters, digits, '-', '_' and '.'")
    return value


def read_yaml(path: str | Path) -> dict[str, Any]:
    """Read a YAML mapping; a missing file or bad YAML is a :class:`UserError`."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: config file not found")
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as err:
        raise UserError(f"{path}: invalid YAML ({str(err).splitlines()[0]})") from None
    if not isinstance(data, dict):
        raise UserError(f"{path}: expected a mapping at the top level")
    return data


def parse_override(text: str) -> tuple[list[str], Any]:
    """``"distill.lam=0.5"`` -> (["distill", "lam"], 0.5); the value is parsed as YAML."""
    if "=" not in text:
        raise UserError(f"override {text!r}: expected key=value (e.g. distill.lam=0.5)")
    key, raw = text.split("=", 1)
    if not key or any(not part for part in key.split(".")):
        raise UserError(f"override {text!r}: empty key")
    try:
        value = yaml.safe_load(raw) if raw != "" else ""
    except yaml.YAMLError:
        value = raw
    return key.split("."), value


def apply_overrides(data: dict[str, Any], overrides: list[str] | dict[str, Any]) -> dict[str, Any]:
    """Return a copy of ``data`` with dotted overrides applied (``["a.b=1"]`` or ``{"a.b": 1}``)."""
    result = _deep_copy(data)
    items = (
        [(k.split("."), v) for k, v in overrides.items()]
        if isinstance(overrides, dict)
        else [parse_override(o) for o in overrides]
    )
    for parts, value in items:
        node = result
        for part in parts[:-1]:
            child = node.get(part)
            if child is None:
                child = node[part] = {}
            elif not isinstance(child, dict):
                raise UserError(f"override {'.'.join(parts)}: {part!r} is not a section")
            node = child
        node[parts[-1]] = value
    return result


def validate(
    model_cls: type[M],
    data: dict[str, Any],
    source: str,
    overrides: list[str] | None = None,
    within: tuple[str, ...] = (),
) -> M:
    """Validate ``data`` against ``model_cls``; errors become one line naming field and value.

    When one of ``overrides`` (``key=value`` texts applied to ``data``) set the failing field, the
    line names that override instead of ``source``. ``within`` is where ``data`` sits in a larger
    config (``("base",)`` for a sweep's training keys): it prefixes the field in the message and in
    the match against overrides.
    """
    try:
        return model_cls.model_validate(data)
    except ValidationError as err:
        errors = err.errors()
        # an unknown key first: a misspelt key also makes the field it meant "missing"
        first = next((e for e in errors if e["type"] == "extra_forbidden"), errors[0])
        loc = tuple(first["loc"])
        more = f" [+{err.error_count() - 1} more]" if err.error_count() > 1 else ""
        if first["type"] == "extra_forbidden":
            problem = unknown_key(model_cls, loc)
        else:
            value = first.get("input")
            shown = "" if isinstance(value, dict) else f" (got {value!r})"
            problem = f"{first['msg'].removeprefix('Value error, ')}{shown}"
        raise UserError(field_error(within + loc, problem, source, overrides) + more) from None


def field_error(
    loc: tuple[Any, ...], problem: str, source: str, overrides: list[str] | None = None
) -> str:
    """``"<override or source>: field a.b: <problem>"``: the one shape of a config error."""
    override = override_for(loc, overrides or [])
    where = f"override {override}" if override is not None else source
    field = ".".join(str(p) for p in loc) or "(top level)"
    return f"{where}: field {field}: {problem}"


def check_dotted_key(model_cls: type[BaseModel], key: str) -> str | None:
    """Why ``key`` (``"distill.lam"``) is not a field of ``model_cls``, or None when it is."""
    parts = key.split(".")
    for depth, part in enumerate(parts):
        names = field_names(model_cls, tuple(parts[:depth]))
        if part not in names:
            section = f" in {'.'.join(parts[:depth])}" if depth else ""
            if not names:
                return f"{'.'.join(parts[:depth])} has no keys below it"
            return f"unknown key {part!r}{section}" + did_you_mean(part, names)
    return None


def unknown_key(model_cls: type[BaseModel], loc: tuple[Any, ...]) -> str:
    """``"unknown key (did you mean 'epochs'?)"`` for an unknown key at ``loc`` of the schema."""
    return "unknown key" + did_you_mean(str(loc[-1]), field_names(model_cls, loc[:-1]))


def did_you_mean(name: str, choices: list[str]) -> str:
    """``" (did you mean 'x'?)"`` for the closest of ``choices``, else the valid names (if few)."""
    close = difflib.get_close_matches(name, choices, n=1, cutoff=0.6)
    if close:
        return f" (did you mean {close[0]!r}?)"
    if choices and len(choices) <= 12:
        return f" (valid: {', '.join(sorted(choices))})"
    return ""


def field_names(model_cls: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    """The keys the schema accepts at ``loc`` (a path of field names and list indexes)."""
    node: Any = model_cls
    for part in loc:
        model = _model_in(node)
        if model is not None and isinstance(part, str) and part in model.model_fields:
            node = model.model_fields[part].annotation
        elif isinstance(part, int):
            node = next(iter(typing.get_args(node)), None)  # list[X] -> X
        else:
            return []
    model = _model_in(node)
    return list(model.model_fields) if model is not None else []


def _model_in(annotation: Any) -> type[BaseModel] | None:
    """The pydantic model in an annotation (``X``, ``X | None``, ``Optional[X]``), if any."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        for arg in typing.get_args(annotation):
            found = _model_in(arg)
            if found is not None:
                return found
    return None


def override_for(loc: tuple[Any, ...], overrides: list[str]) -> str | None:
    """The last override whose key is the field at ``loc`` or one of its sections/sub-keys."""
    path = [part for p in loc for part in str(p).split(".")]  # sweep keys are dotted themselves
    found = None
    for text in overrides:
        key = text.split("=", 1)[0].split(".")
        shared = min(len(key), len(path))
        if shared and key[:shared] == path[:shared]:
            found = text
    return found


def load_config(
    model_cls: type[M], path: str | Path | None = None, overrides: list[str] | None = None
) -> M:
    """Load a YAML file (optional), apply overrides, validate. The one way configs are read."""
    data = read_yaml(path) if path is not None else {}
    if overrides:
        data = apply_overrides(data, overrides)
    return validate(model_cls, data, str(path) if path is not None else "config", overrides)


def _deep_copy(data: dict[str, Any]) -> dict[str, Any]:
    return {k: _deep_copy(v) if isinstance(v, dict) else v for k, v in data.items()}

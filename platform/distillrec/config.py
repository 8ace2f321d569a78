"""YAML configs validated by pydantic, with ``key.sub=value`` command-line overrides.

Every config schema subclasses :class:`StrictModel` (unknown keys fail loudly). Validation errors
become a one-line :class:`~distillrec.errors.UserError` naming the file, the field and the value.
"""

from __future__ import annotations

import re
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


def validate(model_cls: type[M], data: dict[str, Any], source: str) -> M:
    """Validate ``data`` against ``model_cls``; errors become one line naming field and value."""
    try:
        return model_cls.model_validate(data)
    except ValidationError as err:
        first = err.errors()[0]
        loc = ".".join(str(p) for p in first["loc"]) or "(top level)"
        value = first.get("input")
        shown = "" if isinstance(value, dict) else f" (got {value!r})"
        more = f" [+{err.error_count() - 1} more]" if err.error_count() > 1 else ""
        raise UserError(f"{source}: field {loc}: {first['msg']}{shown}{more}") from None


def load_config(
    model_cls: type[M], path: str | Path | None = None, overrides: list[str] | None = None
) -> M:
    """Load a YAML file (optional), apply overrides, validate. The one way configs are read."""
    data = read_yaml(path) if path is not None else {}
    if overrides:
        data = apply_overrides(data, overrides)
    return validate(model_cls, data, str(path) if path is not None else "config")


def _deep_copy(data: dict[str, Any]) -> dict[str, Any]:
    return {k: _deep_copy(v) if isinstance(v, dict) else v for k, v in data.items()}

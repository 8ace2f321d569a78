"""Dataset configs: one YAML per dataset under ``configs/datasets/``, validated by pydantic.

Adding a dataset in a supported format is a new YAML, no code. Names and file names become paths,
so they are checked with :func:`distillrec.config.check_safe_name`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator

from distillrec.config import StrictModel, check_safe_name, load_config
from distillrec.errors import UserError

SourceFormat = Literal[
    "movielens-100k", "movielens-dat", "amazon-2018", "interactions", "sequences", "dllm2rec"
]

# The roles each format reads (``files`` keys); the reader in ``sources.py`` documents each one.
REQUIRED_ROLES: dict[str, tuple[str, ...]] = {
    "movielens-100k": ("ratings", "items"),
    "movielens-dat": ("ratings", "items"),
    "amazon-2018": ("ratings", "items"),
    "interactions": ("ratings", "items"),
    "sequences": ("sequences", "items"),
    "dllm2rec": ("statis", "train", "val", "test"),
}

CONFIG_DIR_ENV = "DISTILLREC_DATASET_CONFIGS"


class SourceFile(StrictModel):
    """One raw file: its name in the raw folder, an optional download URL and a pinned sha256."""

    path: str
    url: str | None = None
    sha256: str | None = None

    @field_validator("path")
    @classmethod
    def _safe_path(cls, value: str) -> str:
        return check_safe_name(value, "file name")

    @field_validator("sha256")
    @classmethod
    def _hex(cls, value: str | None) -> str | None:
        if value is not None and (
            len(value) != 64 or any(c not in "0123456789abcdef" for c in value)
        ):
            raise ValueError("sha256 must be 64 lowercase hex digits")
        return value


class Archive(StrictModel):
    """An official zip archive holding the raw files (MovieLens); checked against its sha256."""

    url: str
    sha256: str | None = None
    member_dir: str = ""

    @field_validator("member_dir")
    @classmethod
    def _safe_dir(cls, value: str) -> str:
        return check_safe_name(value, "member_dir") if value else value


class Columns(StrictModel):
    """Column names for the generic table formats (``interactions``, ``sequences``)."""

    user: str = "user_id"
    item: str = "item_id"
    timestamp: str | None = "timestamp"
    item_ids: str = "item_ids"
    items_id: str = "item_id"
    title: str = "title"


class SplitConfig(StrictModel):
    """How examples are split: BIGRec global time (default) or leave-one-out."""

    protocol: Literal["temporal", "leave_one_out"] = "temporal"
    ratios: tuple[float, float, float] = (0.8, 0.1, 0.1)

    @field_validator("ratios")
    @classmethod
    def _ratios(cls, value: tuple[float, float, float]) -> tuple[float, float, float]:
        if any(r < 0 for r in value) or abs(sum(value) - 1.0) > 1e-6:
            raise ValueError("ratios must be three non-negative numbers summing to 1")
        return value


class DatasetConfig(StrictModel):
    """Everything needed to turn one raw dataset into next-item examples."""

    name: str
    format: SourceFormat
    files: dict[str, SourceFile]
    archive: Archive | None = None
    encoding: str = "utf-8"
    separator: str = ","
    columns: Columns = Field(default_factory=Columns)
    dedupe: bool = False
    k_core: int = Field(0, ge=0)
    max_history: int = Field(10, ge=1)
    min_history: int = Field(1, ge=1)
    split: SplitConfig = Field(default_factory=SplitConfig)
    license: str = ""
    description: str = ""

    @field_validator("name")
    @classmethod
    def _safe_name(cls, value: str) -> str:
        return check_safe_name(value, "dataset name")

    @model_validator(mode="after")
    def _roles(self) -> DatasetConfig:
        missing = [r for r in REQUIRED_ROLES[self.format] if r not in self.files]
        if missing:
            raise ValueError(f"format {self.format!r} needs files {missing}")
        return self


def config_dir() -> Path:
    """``configs/datasets`` of this checkout (or ``$DISTILLREC_DATASET_CONFIGS``)."""
    if os.environ.get(CONFIG_DIR_ENV):
        return Path(os.environ[CONFIG_DIR_ENV])
    repo = Path(__file__).resolve().parents[3] / "configs" / "datasets"
    return repo if repo.is_dir() else Path.cwd() / "configs" / "datasets"


def known_datasets() -> list[str]:
    """Names of the bundled dataset configs."""
    return sorted(p.stem for p in config_dir().glob("*.yaml"))


def resolve_config(dataset: str | Path | DatasetConfig) -> DatasetConfig:
    """A config object, a YAML path or a bundled dataset name -> a validated config."""
    if isinstance(dataset, DatasetConfig):
        return dataset
    text = str(dataset)
    if text.endswith((".yaml", ".yml")) or os.sep in text:
        return load_config(DatasetConfig, Path(text))
    try:
        check_safe_name(text, "dataset name")
    except ValueError as err:
        raise UserError(str(err)) from None
    path = config_dir() / f"{text}.yaml"
    if not path.is_file():
        known = ", ".join(known_datasets()) or "none"
        raise UserError(f"unknown dataset {text!r} (known: {known}; or pass a YAML path)")
    return load_config(DatasetConfig, path)

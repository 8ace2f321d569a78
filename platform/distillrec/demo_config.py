"""The demo's config (``configs/demo/<dataset>[-quick].yaml``) and where its files are found."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field

from distillrec.config import StrictModel, check_safe_name, load_config
from distillrec.errors import UserError

REPO_ROOT = Path(__file__).resolve().parents[2]


class DemoConfig(StrictModel):
    """What the demo runs; every path is relative to the working directory (or the repo)."""

    dataset: str = "ml-100k"
    teacher_config: str = "configs/teacher/smollm2-135m.yaml"
    finetune: dict[str, Any] = Field(default_factory=dict)  # TeacherConfig dotted overrides
    inference: dict[str, Any] = Field(default_factory=dict)  # TeacherConfig dotted overrides
    sweep_config: str = "configs/sweeps/ml-100k.yaml"
    sweep: dict[str, Any] = Field(default_factory=dict)  # SweepConfig dotted overrides
    serve_port: int = Field(8000, ge=1, le=65535)
    recommend_k: int = Field(10, ge=1, le=100)


def config_path(path: str) -> Path:
    """A config named relative to the working directory, else to the repository."""
    candidate = Path(path)
    if candidate.is_absolute() or candidate.exists():
        return candidate
    return REPO_ROOT / candidate


def load_demo_config(dataset: str, quick: bool, overrides: list[str] | None = None) -> DemoConfig:
    """``configs/demo/<dataset>[-quick].yaml`` with ``key=value`` overrides."""
    check_safe_name(dataset, "dataset")
    name = f"{dataset}-quick.yaml" if quick else f"{dataset}.yaml"
    path = config_path(f"configs/demo/{name}")
    if not path.is_file():
        known = sorted(p.stem for p in config_path("configs/demo").glob("*.yaml"))
        raise UserError(f"no demo config for dataset {dataset!r} ({path}); known: {known}")
    return load_config(DemoConfig, path, overrides)

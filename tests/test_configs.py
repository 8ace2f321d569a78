"""Every YAML shipped under configs/ validates against its pydantic schema (typos fail loudly)."""

from __future__ import annotations

from pathlib import Path

import pytest

from distillrec.config import load_config

CONFIGS = Path(__file__).resolve().parents[1] / "configs"


def schema_for(folder: str):
    """The schema of each config folder; a new folder must be added here."""
    from distillrec.data.config import DatasetConfig
    from distillrec.demo_config import DemoConfig
    from distillrec.study.config import StudyConfig
    from distillrec.sweep.config import SweepConfig
    from distillrec.teacher.config import TeacherConfig
    from distillrec.teacher.tune_config import TeacherTuneConfig
    from distillrec.training.config import TrainConfig

    return {
        "datasets": DatasetConfig,
        "teacher": TeacherConfig,
        "train": TrainConfig,
        "sweeps": SweepConfig,
        "demo": DemoConfig,
        "studies": StudyConfig,
        "teacher-tune": TeacherTuneConfig,
    }.get(folder)


YAMLS = sorted(p for p in CONFIGS.rglob("*.yaml") if p.parent.name != "cluster")


def test_configs_exist() -> None:
    assert {p.parent.name for p in YAMLS} >= {"datasets", "teacher", "train", "sweeps"}


@pytest.mark.parametrize("path", YAMLS, ids=lambda p: str(p.relative_to(CONFIGS)))
def test_config_validates(path: Path) -> None:
    schema = schema_for(path.parent.name)
    assert schema is not None, f"no schema registered for configs/{path.parent.name}/"
    load_config(schema, path)


@pytest.mark.parametrize("path", YAMLS, ids=lambda p: str(p.relative_to(CONFIGS)))
def test_every_key_is_commented(path: Path) -> None:
    """Each `key: value` line carries a one-line `# ...` comment (on the line or just above)."""
    lines = path.read_text().splitlines()
    for i, line in enumerate(lines):
        stripped = line.strip()
        if not stripped or stripped.startswith("#") or stripped.startswith("- "):
            continue
        if ":" not in stripped or stripped.endswith(":"):
            continue  # not a key, or a section header documented by its keys
        above = lines[i - 1].strip() if i else ""
        assert "#" in line or above.startswith("#"), (
            f"{path.name}:{i + 1}: {stripped!r} lacks a comment"
        )

"""The study config: datasets x students x variants x seeds, paired within each cell.

Every run of a (dataset, student, seed) cell gets the same ``base`` settings, the same student
preset, the same epoch budget and no early-stopping scheduler; only its variant's distillation
overrides differ. Validated here, so a typo fails before Ray starts.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field, field_validator, model_validator

from distillrec.config import StrictModel, check_safe_name, load_config
from distillrec.distill.variants import (
    BASELINE,
    BUILTIN_VARIANTS,
    STUDENT_PRESETS,
    check_variant,
    is_distillation_key,
)
from distillrec.study.statistics import CONFIDENCE, N_RESAMPLES
from distillrec.sweep.config import (
    RESERVED_KEYS,
    DatasetSpec,
    DottedKeys,
    ResourcesConfig,
    TrackingConfig,
)

DEFAULT_EXPERIMENT = "distillrec-studies"
STUDY_RESERVED_KEYS = RESERVED_KEYS | {"seed"}
STATISTICS_PARAM = "statistics"  # parent-run param prefix of StatisticsConfig


class StatisticsConfig(StrictModel):
    """How the paired comparison is computed (see :mod:`distillrec.study.statistics`).

    Logged on the study's MLflow parent run (:meth:`as_params`) and read back by every report
    of the study (:meth:`from_params`), so ``distillrec report --kind study`` rebuilds the
    intervals the study printed, at the level it printed.
    """

    confidence: float = Field(CONFIDENCE, gt=0, lt=1)
    n_resamples: int = Field(N_RESAMPLES, ge=100)
    seed: int = 0  # bootstrap RNG seed: the same runs give the same interval

    def as_params(self) -> dict[str, Any]:
        """``{"statistics.confidence": 0.95, ...}``: the parent run's params."""
        return {f"{STATISTICS_PARAM}.{key}": value for key, value in self.model_dump().items()}

    @classmethod
    def from_params(cls, params: dict[str, str]) -> StatisticsConfig | None:
        """The settings a study's parent run recorded; None when it recorded none (a study
        started before they were logged: the report then says it used the defaults)."""
        found = {
            key: params[f"{STATISTICS_PARAM}.{key}"]
            for key in cls.model_fields
            if f"{STATISTICS_PARAM}.{key}" in params
        }
        return cls.model_validate(found) if found else None


class StudyTrackingConfig(TrackingConfig):
    experiment: str = DEFAULT_EXPERIMENT


class StudyConfig(StrictModel):
    """A whole study: one MLflow parent run, one Ray Tune experiment per dataset."""

    name: str
    datasets: list[DatasetSpec] = Field(min_length=1)
    students: list[str] = Field(min_length=1)  # preset names (built-in or student_presets)
    student_presets: dict[str, DottedKeys] = Field(default_factory=dict)
    variants: list[str] = Field(default_factory=lambda: [BASELINE, "dllm2rec"])
    custom_variants: dict[str, DottedKeys] = Field(default_factory=dict)
    seeds: list[int] = Field(default_factory=lambda: [0, 1, 2], min_length=1)
    base: DottedKeys = Field(default_factory=dict)  # TrainConfig dotted keys of every run
    epochs: int = Field(20, ge=1)  # maximum epochs of every run (early stopping on val only)
    resources: ResourcesConfig = Field(default_factory=ResourcesConfig)
    max_concurrent_trials: int | None = Field(None, ge=1)
    max_failures: int = Field(1, ge=0)  # retries of a failing run
    allow_failed_trials: bool = False  # False: a run still failing after retries fails the study
    storage_path: str = "ray_results"
    report_dir: str = "reports/studies"
    verbose: int = Field(1, ge=0, le=3)
    mlflow: StudyTrackingConfig = Field(default_factory=StudyTrackingConfig)
    statistics: StatisticsConfig = Field(default_factory=StatisticsConfig)

    @field_validator("name")
    @classmethod
    def _safe_name(cls, value: str) -> str:
        return check_safe_name(value, "study name")

    @field_validator("students", "variants", "seeds")
    @classmethod
    def _unique(cls, value: list[Any]) -> list[Any]:
        if len(set(value)) != len(value):
            raise ValueError(f"listed twice: {value}")
        return value

    @field_validator("base")
    @classmethod
    def _no_reserved_keys(cls, value: dict[str, Any]) -> dict[str, Any]:
        reserved = sorted(k for k in value if k.split(".")[0] in STUDY_RESERVED_KEYS)
        if reserved:
            raise ValueError(f"{reserved} are set by the study itself (datasets/students/seeds)")
        return value

    @field_validator("custom_variants")
    @classmethod
    def _custom_variants(cls, value: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        for name, overrides in value.items():
            check_safe_name(name, "variant name")
            if name in BUILTIN_VARIANTS:
                raise ValueError(f"variant {name!r} is built in; pick another name")
            check_variant(name, overrides)
        return value

    @field_validator("student_presets")
    @classmethod
    def _presets(cls, value: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        for name, overrides in value.items():
            check_safe_name(name, "student preset name")
            if "student" not in overrides:
                raise ValueError(f"student preset {name!r}: needs a `student` (architecture)")
            bad = sorted(k for k in overrides if is_distillation_key(k) or k in {"seed"})
            if bad:
                raise ValueError(f"student preset {name!r}: {bad} belong to variants/seeds")
        return value

    @model_validator(mode="after")
    def _known_names(self) -> StudyConfig:
        if BASELINE not in self.variants:
            raise ValueError("variants must include baseline: every gain is paired against it")
        known = set(BUILTIN_VARIANTS) | set(self.custom_variants)
        unknown = [v for v in self.variants if v not in known]
        if unknown:
            raise ValueError(f"unknown variants {unknown}; valid: {', '.join(sorted(known))}")
        presets = set(STUDENT_PRESETS) | set(self.student_presets)
        unknown = [s for s in self.students if s not in presets]
        if unknown:
            raise ValueError(f"unknown students {unknown}; valid: {', '.join(sorted(presets))}")
        conflict = preset_conflict(self.base, self.presets())
        if conflict:
            raise ValueError(conflict)
        if any(v != BASELINE for v in self.variants):
            missing = [d.name for d in self.datasets if d.teacher is None]
            if missing:
                raise ValueError(
                    f"datasets {missing} have no teacher for the distillation variants"
                )
        return self

    def variant_overrides(self) -> dict[str, dict[str, Any]]:
        """Every variant of this study -> its distillation overrides."""
        table = {**BUILTIN_VARIANTS, **self.custom_variants}
        return {name: dict(table[name]) for name in self.variants}

    def presets(self) -> dict[str, dict[str, Any]]:
        """Every student of this study -> its ``TrainConfig`` overrides (``student`` included)."""
        table = {**STUDENT_PRESETS, **self.student_presets}
        return {name: dict(table[name]) for name in self.students}

    @property
    def num_runs(self) -> int:
        return len(self.datasets) * len(self.students) * len(self.variants) * len(self.seeds)


def preset_conflict(base: dict[str, Any], presets: dict[str, dict[str, Any]]) -> str | None:
    """Why ``base`` and a student preset disagree on a key, or None.

    A preset is applied after ``base``, so it would silently win: a base key the study's author
    set for every run would not be what some students ran with. Refused instead (see
    docs/studies.md, "Students"): a per-student value belongs in ``student_presets``.
    """
    clashes = [
        (key, name, preset[key])
        for name, preset in presets.items()
        for key in sorted(preset)
        if key in base and base[key] != preset[key]
    ]
    if not clashes:
        return None
    key, name, value = clashes[0]
    more = f" [+{len(clashes) - 1} more]" if len(clashes) > 1 else ""
    return (
        f"base key {key}={base[key]!r} conflicts with student preset {name!r} ({key}={value!r}), "
        f"which would override it; remove it from base or define a preset under student_presets"
        f"{more}"
    )


def load_study_config(path: str | Path, overrides: list[str] | None = None) -> StudyConfig:
    """Read and validate a study YAML (``key.sub=value`` overrides allowed)."""
    return load_config(StudyConfig, path, overrides)

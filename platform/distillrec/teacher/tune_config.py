"""The teacher quality grid config (`configs/teacher/tune-*.yaml`, `distillrec teacher tune`).

A grid is a set of *entries* (a model, e.g. a LoRA fine-tune, plus teacher-config overrides such
as a shorter prompt or bf16), each decoded one or more ways, then grounded with each embedder and
each popularity gamma. Generation is the expensive part, so every (entry, decoding) is generated
once on a fixed, seeded val sample and every grounding choice re-ranks the stored text. The best
point is chosen on val only; test is read once, for that point, on its own seeded sample.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from distillrec.config import (
    StrictModel,
    apply_overrides,
    check_dotted_key,
    check_safe_name,
    load_config,
    read_yaml,
    validate,
)
from distillrec.teacher.config import BeamMerge, TeacherConfig
from distillrec.teacher.evaluation import CUTOFFS

Decoding = Literal["greedy", "beam"]
# `self`: the entry's own model embeds (the pipeline's default); `base`: the grid's base model
# embeds (BIGRec grounds a fine-tuned model with its base); `sentence`: all-MiniLM-L6-v2.
Embedder = Literal["self", "base", "sentence"]
SELECTION_METRICS = tuple(f"{m}@{k}" for m in ("ndcg", "hr") for k in CUTOFFS)
# Keys a grid sets itself: an entry may not override them.
GRID_KEYS = ("base_model", "inference.decoding", "sample", "output_dir", "grounding")


class SampleSpec(StrictModel):
    """A fixed sample of one split: the first ``size`` ids of the seeded permutation that
    ``teacher infer`` uses (``sample.seed``), so an artifact with the same seed covers it."""

    size: int = Field(ge=1)
    seed: int = 0


class GridEntry(StrictModel):
    """One generation setup: a model and the teacher-config keys it changes."""

    model: str  # built-in name, HF id or a `teacher finetune` output folder
    overrides: dict[str, Any] = Field(default_factory=dict)  # dotted TeacherConfig keys
    decodings: list[Decoding] | None = None  # None = the grid's `decodings`
    knobs: dict[str, Any] = Field(default_factory=dict)  # logged as params (prompts, epochs, ...)

    @field_validator("overrides")
    @classmethod
    def _known_keys(cls, value: dict[str, Any]) -> dict[str, Any]:
        for key in value:
            if any(key == grid or key.startswith(f"{grid}.") for grid in GRID_KEYS):
                raise ValueError(f"{key!r} is set by the grid itself (entries may not override it)")
            problem = check_dotted_key(TeacherConfig, key)
            if problem:
                raise ValueError(problem)
        return value


class TuneTrackingConfig(StrictModel):
    tracking_uri: str | None = None  # None = MLFLOW_TRACKING_URI or sqlite:///mlflow.db
    experiment: str = "distillrec-teacher-tune"


class TeacherTuneConfig(StrictModel):
    """The whole grid; see the module docstring."""

    name: str
    teacher: str = "configs/teacher/smollm2-135m.yaml"  # prompt, engines, grounding defaults
    val_sample: SampleSpec = Field(default_factory=lambda: SampleSpec(size=1000))
    test_sample: SampleSpec = Field(default_factory=lambda: SampleSpec(size=2000))
    entries: dict[str, GridEntry] = Field(min_length=1)
    decodings: list[Decoding] = Field(default_factory=lambda: ["greedy"], min_length=1)
    embedders: list[Embedder] = Field(default_factory=lambda: ["self"], min_length=1)
    base_embedder_model: str | None = None  # the `base` embedder; None = the teacher's base_model
    gammas: list[float] = Field(default_factory=lambda: [0.0], min_length=1)
    # how beam-decoded entries' beams merge into one ranking (each scored; greedy is `top` only)
    beam_merges: list[BeamMerge] = Field(
        default_factory=lambda: ["top", "nearest", "weighted"], min_length=1
    )
    selection_metric: str = "ndcg@20"
    out_dir: str = "artifacts/teacher-tune"  # generation cache: <out_dir>/<name>/
    report_dir: str = "reports/teacher-tune"  # <report_dir>/<name>/grid.{md,csv}, best.yaml
    mlflow: TuneTrackingConfig = Field(default_factory=TuneTrackingConfig)
    # Added to every engine's `inference.env` (the CLI names its engine log here); not part of
    # a generation's identity.
    engine_env: dict[str, str] = Field(default_factory=dict)

    @field_validator("name")
    @classmethod
    def _safe_name(cls, value: str) -> str:
        return check_safe_name(value, "name")

    @field_validator("entries")
    @classmethod
    def _safe_entry_names(cls, value: dict[str, GridEntry]) -> dict[str, GridEntry]:
        for name in value:
            check_safe_name(name, "entry name")
        return value

    @field_validator("gammas")
    @classmethod
    def _gammas(cls, value: list[float]) -> list[float]:
        if any(g < 0 for g in value):
            raise ValueError("popularity gammas must be >= 0")
        return sorted(set(value))

    @field_validator("selection_metric")
    @classmethod
    def _metric(cls, value: str) -> str:
        if value not in SELECTION_METRICS:
            raise ValueError(f"{value!r}: choose from {', '.join(SELECTION_METRICS)}")
        return value

    @model_validator(mode="after")
    def _teacher_exists(self) -> TeacherTuneConfig:
        if not Path(self.teacher).is_file():
            raise ValueError(f"teacher: config file {self.teacher!r} not found")
        return self

    def decodings_of(self, entry: str) -> list[Decoding]:
        return self.entries[entry].decodings or self.decodings

    def teacher_config(self, entry: str, decoding: Decoding) -> TeacherConfig:
        """The entry's full teacher config: the grid's teacher YAML, the entry's overrides, its
        model and the decoding."""
        spec = self.entries[entry]
        overrides = {
            **spec.overrides,
            "base_model": spec.model,
            "inference.decoding": decoding,
        }
        data = apply_overrides(read_yaml(self.teacher), overrides)
        cfg = validate(TeacherConfig, data, f"{self.teacher} with entries.{entry}")
        if self.engine_env:
            cfg.inference.env = {**cfg.inference.env, **self.engine_env}
        return cfg


def load_tune_config(path: str | Path, overrides: list[str] | None = None) -> TeacherTuneConfig:
    """Read and validate a grid YAML (``key.sub=value`` overrides allowed)."""
    return load_config(TeacherTuneConfig, path, overrides)

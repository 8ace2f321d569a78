"""The sweep config: which datasets, students and distillation settings a Ray Tune sweep explores.

One YAML file describes the whole experiment (datasets with their teacher artifacts, students, the
search space as dotted :class:`~distillrec.training.TrainConfig` keys, search algorithm, scheduler,
resources and retries), validated here so a typo fails before Ray starts.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, field_validator, model_validator

from distillrec.config import (
    StrictModel,
    apply_overrides,
    check_dotted_key,
    check_safe_name,
    field_error,
    load_config,
    validate,
)
from distillrec.contracts import dataset_path
from distillrec.errors import UserError

# Keys the sweep itself controls per trial; a search space may not override them.
RESERVED_KEYS = {"student", "dataset", "teacher", "epochs", "num_threads", "mlflow", "output_dir"}
DEFAULT_EXPERIMENT = "distillrec-sweeps"


def dotted_keys(value: Any) -> Any:
    """``{distill: {lam: 0.5}}`` (YAML nesting, or the override ``base.distill.lam=0.5``) ->
    ``{"distill.lam": 0.5}``: overrides are merged key by key (base, then preset, then
    variant), so a nested section would replace a whole section instead of one key."""
    return flatten_keys(value) if isinstance(value, dict) else value


def flatten_keys(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"distill": {"lam": 1}, "lr": 2}`` -> ``{"distill.lam": 1, "lr": 2}``."""
    flat: dict[str, Any] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten_keys(value, f"{name}."))
        else:
            flat[name] = value
    return flat


# A mapping of dotted TrainConfig keys, nested sections flattened before validation: the one
# validator of every config's ``base`` (and a study's variants and presets), not a copy per model.
DottedKeys = Annotated[dict[str, Any], BeforeValidator(dotted_keys)]


class DatasetSpec(StrictModel):
    """A prepared dataset and the teacher artifact its distillation trials use (or none)."""

    name: str
    path: str | None = None  # prepared dataset folder; default data/<name>
    teacher: str | None = None  # teacher artifact folder; None = only no-distillation trials

    @field_validator("name")
    @classmethod
    def _safe_name(cls, value: str) -> str:
        return check_safe_name(value, "dataset name")

    @property
    def dataset_path(self) -> str:
        """``path``, else the name (a bare name means ``data/<name>``)."""
        return str(dataset_path(self.path or self.name))


class Distribution(StrictModel):
    """One search dimension; exactly one of the fields is set (``{loguniform: [1e-4, 1e-2]}``)."""

    grid: list[Any] | None = None  # every value is tried (grid search)
    choice: list[Any] | None = None  # sampled uniformly from the list
    uniform: tuple[float, float] | None = None  # [low, high]
    loguniform: tuple[float, float] | None = None  # [low, high], both > 0
    randint: tuple[int, int] | None = None  # [low, high), integers

    @model_validator(mode="after")
    def _exactly_one(self) -> Distribution:
        set_fields = [name for name in type(self).model_fields if getattr(self, name) is not None]
        if len(set_fields) != 1:
            raise ValueError(
                "give exactly one of grid, choice, uniform, loguniform, randint "
                f"(got {set_fields or 'none'})"
            )
        kind = set_fields[0]
        value = getattr(self, kind)
        if kind in {"grid", "choice"} and not value:
            raise ValueError(f"{kind} needs at least one value")
        if kind in {"uniform", "loguniform", "randint"} and not value[0] < value[1]:
            raise ValueError(f"{kind} needs low < high (got {list(value)})")
        if kind == "loguniform" and value[0] <= 0:
            raise ValueError(f"loguniform needs low > 0 (got {value[0]})")
        return self

    @property
    def kind(self) -> str:
        return next(n for n in type(self).model_fields if getattr(self, n) is not None)

    @property
    def values(self) -> Any:
        return getattr(self, self.kind)

    def contains(self, value: Any) -> bool:
        """Whether ``value`` is a legal sample of this dimension."""
        if self.kind in {"grid", "choice"}:
            return value in self.values
        low, high = self.values
        if not isinstance(value, int | float) or isinstance(value, bool):
            return False
        return low <= value < high if self.kind == "randint" else low <= value <= high

    def reference(self, preferred: Any) -> Any:
        """A legal value for fixed trials (baselines): ``preferred`` when legal, else a default."""
        if preferred is not None and self.contains(preferred):
            return preferred
        if self.kind in {"grid", "choice"}:
            return self.values[0]
        low, high = self.values
        if self.kind == "randint":
            return low
        if self.kind == "loguniform":
            return math.sqrt(low * high)
        return (low + high) / 2


class SearchConfig(StrictModel):
    """How trial configurations are chosen."""

    algorithm: Literal["grid", "random", "optuna"] = "random"
    num_samples: int = Field(1, ge=1)  # per student (grid: repeats of the whole grid)
    seed: int | None = 0  # sampler seed (random, optuna); None = not reproducible


class SchedulerConfig(StrictModel):
    """Early stopping of weak trials (ASHA on validation NDCG@20, one rung step per epoch)."""

    type: Literal["asha", "none"] = "asha"
    grace_period: int = Field(1, ge=1)  # epochs every trial gets before it can be stopped
    reduction_factor: float = Field(2.0, gt=1.0)  # keep the best 1/reduction_factor at each rung


class ResourcesConfig(StrictModel):
    """What one trial asks Ray for; fractional CPUs let several trials share a core."""

    cpus_per_trial: float = Field(1.0, gt=0)
    gpus_per_trial: float = Field(0.0, ge=0)


class TrackingConfig(StrictModel):
    """Where runs go; ``tracking_uri`` None = ``MLFLOW_TRACKING_URI`` or ``sqlite:///mlflow.db``."""

    tracking_uri: str | None = None
    experiment: str = DEFAULT_EXPERIMENT


class SweepConfig(StrictModel):
    """A whole sweep: one Ray Tune experiment (and one MLflow parent run) per dataset."""

    name: str
    datasets: list[DatasetSpec] = Field(min_length=1)
    students: list[str] = Field(min_length=1)
    base: DottedKeys = Field(default_factory=dict)  # TrainConfig dotted keys for every trial
    search_space: dict[str, Distribution] = Field(default_factory=dict)
    search: SearchConfig = Field(default_factory=SearchConfig)
    scheduler: SchedulerConfig = Field(default_factory=SchedulerConfig)
    resources: ResourcesConfig = Field(default_factory=ResourcesConfig)
    max_concurrent_trials: int | None = Field(None, ge=1)  # None = as many as resources allow
    max_failures: int = Field(1, ge=0)  # retries of a failing trial
    allow_failed_trials: bool = False  # False: a trial still failing after retries fails the sweep
    epochs: int = Field(3, ge=1)  # maximum epochs of every trial (the same budget for all)
    baseline: bool = True  # add a no-distillation trial per student (lam=0, ed_weight=0)
    # rerun_best: after the search, each student's best DLLM2Rec trial's non-distillation
    # settings re-run with distillation off (same tuning on both sides of the gain);
    # base_config: one baseline at the base config's values, run first (not tuned; pre-issue-13)
    baseline_tuning: Literal["rerun_best", "base_config"] = "rerun_best"
    storage_path: str = "ray_results"  # Ray Tune experiment folders (what --resume reads)
    report_dir: str = "reports"  # <report_dir>/<dataset>/<name>-<parent run id[:8]>/report.*
    verbose: int = Field(1, ge=0, le=3)  # Ray Tune console output
    mlflow: TrackingConfig = Field(default_factory=TrackingConfig)
    register_champion: bool = True  # register the best trial per dataset in the model registry

    @field_validator("name")
    @classmethod
    def _safe_name(cls, value: str) -> str:
        return check_safe_name(value, "sweep name")

    @field_validator("students")
    @classmethod
    def _unique_students(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError(f"students listed twice: {value}")
        return value

    @field_validator("datasets")
    @classmethod
    def _unique_datasets(cls, value: list[DatasetSpec]) -> list[DatasetSpec]:
        names = [d.name for d in value]
        if len(set(names)) != len(names):
            raise ValueError(f"dataset names listed twice: {names}")
        return value

    @field_validator("base", "search_space")
    @classmethod
    def _no_reserved_keys(cls, value: dict[str, Any]) -> dict[str, Any]:
        reserved = sorted(k for k in value if k.split(".")[0] in RESERVED_KEYS)
        if reserved:
            raise ValueError(f"{reserved} are set by the sweep itself (see datasets/students)")
        return value

    @model_validator(mode="after")
    def _grid_needs_basic_search(self) -> SweepConfig:
        if self.search.algorithm == "optuna":
            grids = sorted(k for k, d in self.search_space.items() if d.kind == "grid")
            if grids:
                raise ValueError(f"optuna cannot search grid dimensions {grids}; use choice")
        if self.search.algorithm == "grid":
            sampled = sorted(k for k, d in self.search_space.items() if d.kind != "grid")
            if sampled:
                raise ValueError(f"algorithm grid needs grid dimensions only; {sampled} are not")
        return self

    def dataset(self, name: str) -> DatasetSpec:
        for spec in self.datasets:
            if spec.name == name:
                return spec
        raise KeyError(name)


def load_sweep_config(path: str | Path, overrides: list[str] | None = None) -> SweepConfig:
    """Read and validate a sweep YAML (``key.sub=value`` overrides allowed), including every
    ``base`` and ``search_space`` key against the training config: a typo fails here, before Ray
    starts, naming the key (and the override that set it)."""
    cfg = load_config(SweepConfig, path, overrides)
    train_key_values(cfg, source=str(path), overrides=overrides)
    return cfg


def train_key_values(
    cfg: SweepConfig,
    dataset_path: str | None = None,
    source: str | None = None,
    overrides: list[str] | None = None,
) -> dict[str, Any]:
    """Validate ``base`` and every ``search_space`` key against ``TrainConfig`` (with each
    student); return each search key's value in the base training config (what baselines use)."""
    from distillrec.training.config import TrainConfig

    source = source or f"sweep {cfg.name}"
    for section, keys in (("base", cfg.base), ("search_space", cfg.search_space)):
        for key in keys:
            problem = check_dotted_key(TrainConfig, key)
            if problem is not None:
                raise UserError(field_error((section, key), problem, source, overrides))
    dataset = dataset_path or cfg.datasets[0].dataset_path
    for student in cfg.students:
        data = apply_overrides({}, {**cfg.base, "student": student, "dataset": dataset})
        base = validate(TrainConfig, data, source, overrides, within=("base",))
    dumped = base.model_dump()
    values: dict[str, Any] = {}
    for key, dist in cfg.search_space.items():
        node: Any = dumped
        for part in key.split("."):
            node = node[part]
        values[key] = node
        sample = apply_overrides(data, {key: dist.reference(node)})
        validate(TrainConfig, sample, source, overrides, within=("search_space",))
    return values

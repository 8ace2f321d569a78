"""The training config (Contract 5 in docs/architecture.md): flat where users sweep, nested where
it groups. Defaults follow the DLLM2Rec reference code."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator

from distillrec.config import StrictModel
from distillrec.contracts import dataset_path


class DrosConfig(StrictModel):
    """Distributionally robust optimisation term of the main loss (alpha = 0 turns it off)."""

    alpha: float = Field(1.0, ge=0)
    beta: float = Field(1.0, gt=0)


class DistillConfig(StrictModel):
    """DLLM2Rec's two distillation components; lam = ed_weight = 0 is the plain student."""

    lam: float = Field(0.8, ge=0)
    ed_weight: float = Field(0.2, ge=0)
    gamma_position: float = Field(0.3, ge=0)
    gamma_confidence: float = Field(0.5, ge=0)
    gamma_consistency: float = Field(0.1, ge=0)
    candidate_topk: int = Field(10, ge=1)
    position_temperature: float = Field(1.0, gt=0)
    confidence_temperature: float = Field(1.0, gt=0)  # w_c ∝ exp(-distance / T)
    confidence_form: Literal["softmax", "reference"] = "softmax"  # reference: exp(-d/T) + 1e-8
    rd_average: Literal["covered", "batch"] = "covered"  # batch = pre-issue-13 (scaled by coverage)
    negative_form: Literal["standard", "reference"] = "standard"
    ed_projection: Literal["linear", "mlp"] = "linear"

    @model_validator(mode="after")
    def _gammas_not_all_zero(self) -> DistillConfig:
        if self.gamma_position + self.gamma_confidence + self.gamma_consistency <= 0:
            raise ValueError("at least one of gamma_position/confidence/consistency must be > 0")
        return self


class MlflowConfig(StrictModel):
    """Where runs go; tracking_uri null = MLFLOW_TRACKING_URI or sqlite:///mlflow.db."""

    tracking_uri: str | None = None
    experiment: str = "distillrec"
    log_model: bool = True


class TrainConfig(StrictModel):
    """One student training run (see configs/train/*.yaml for every key explained)."""

    dataset: str = "data/ml-100k"
    student: str = "sasrec"
    hidden_size: int = Field(64, ge=1)
    dropout: float = Field(0.1, ge=0, lt=1)
    epochs: int = Field(50, ge=0)
    patience: int = Field(5, ge=1)
    batch_size: int = Field(256, ge=1)
    lr: float = Field(0.001, gt=0)
    weight_decay: float = Field(0.0, ge=0)
    seed: int = 0
    num_threads: int | None = Field(None, ge=1)
    teacher: str | None = None
    dros: DrosConfig = Field(default_factory=DrosConfig)
    distill: DistillConfig = Field(default_factory=DistillConfig)
    mlflow: MlflowConfig = Field(default_factory=MlflowConfig)
    output_dir: str = "runs"

    @field_validator("student")
    @classmethod
    def _known_student(cls, value: str) -> str:
        from distillrec.students.registry import STUDENTS

        if value not in STUDENTS:
            raise ValueError(f"unknown student {value!r}; valid: {', '.join(sorted(STUDENTS))}")
        return value

    def dataset_path(self) -> Path:
        """``dataset`` as a folder (a bare name means ``data/<name>``)."""
        return dataset_path(self.dataset)

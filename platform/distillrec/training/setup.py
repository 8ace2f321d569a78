"""Everything one run needs, built once: data as tensors, the student (with teacher fusion), the
DROS propensities, the aligned teacher rankings; plus the per-batch DLLM2Rec loss."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from distillrec.distill import (
    TeacherEmbeddingFusion,
    TeacherTargets,
    dllm2rec_loss,
    dros_propensity,
)
from distillrec.errors import UserError
from distillrec.students.base import SequentialRecommender
from distillrec.students.registry import build_student
from distillrec.training.batches import ExampleTensors, align_teacher, sample_negatives
from distillrec.training.config import TrainConfig
from distillrec.training.finite import check_loss
from distillrec.training.metrics import evaluate, split_ranks
from distillrec.training.naming import model_name, run_name, variant_of
from distillrec.training.teacher_info import RD_COVERAGE_TAG, teacher_tags


@dataclass(frozen=True)
class Batch:
    """One training batch: ``scores [B, N]``, ``target``/``negative`` ``[B]``, teacher rows."""

    scores: torch.Tensor
    target: torch.Tensor
    negative: torch.Tensor
    teacher: TeacherTargets | None


@dataclass
class TrainingSetup:
    """One run's state. ``splits`` maps train/val/test to :class:`ExampleTensors`."""

    config: TrainConfig
    dataset: Any  # distillrec.data.PreparedDataset
    model: SequentialRecommender
    model_kwargs: dict[str, Any]
    splits: dict[str, ExampleTensors]
    propensity: torch.Tensor | None
    teacher: TeacherTargets | None = None
    teacher_path: str | None = None
    teacher_manifest: dict[str, Any] = field(default_factory=dict)
    # the teacher's training coverage (teacher.artifact.train_coverage); 0.0 without a teacher
    teacher_train_coverage: float = 0.0
    variant_name: str | None = None  # a study's named variant (``rd_only``, ...), if any

    @property
    def variant(self) -> str:
        """The named variant this run belongs to, else ``baseline`` or ``dllm2rec``: what its
        distillation settings amount to."""
        return self.variant_name or variant_of(self.config, self.teacher_path)

    def run_name(self, trial: str | None = None) -> str:
        return run_name(self.config, self.dataset.meta.name, variant=self.variant, trial=trial)

    @property
    def rd_coverage(self) -> float:
        """The share of this run's training rows that get a ranking-distillation term: the
        teacher's training coverage when the run distils rankings (``lam > 0``), else 0."""
        return self.teacher_train_coverage if self.uses_rd else 0.0

    def tags(self) -> dict[str, str]:
        """MLflow tags: what data and which teacher produced this run."""
        cfg = self.config.distill
        parts = [name for name, on in (("rd", self.uses_rd), ("ed", self.uses_ed)) if on]
        return {
            "dataset": self.dataset.meta.name,
            "dataset_fingerprint": self.dataset.fingerprint,
            "dataset_split": json.dumps(self.dataset.meta.split, sort_keys=True),
            "student": self.config.student,
            "variant": self.variant,
            "teacher_artifact": "",
            **teacher_tags(self.teacher_manifest, self.teacher_path, self.teacher_train_coverage),
            "teacher_manifest_sha256": self.teacher_manifest_hash,
            RD_COVERAGE_TAG: f"{self.rd_coverage:.4f}",
            "distillation": "+".join(parts) or "none",
            "negative_form": cfg.negative_form,
        }

    @property
    def teacher_manifest_hash(self) -> str:
        from distillrec.teacher.artifact import manifest_sha256

        return manifest_sha256(self.teacher_path) if self.teacher_path else ""

    @property
    def uses_rd(self) -> bool:
        return self.teacher is not None and self.config.distill.lam > 0

    @property
    def uses_ed(self) -> bool:
        return self.model.teacher_fusion is not None

    def evaluate(self, split: str) -> dict[str, float]:
        return evaluate(self.model, self.splits[split], split=split)

    def ranks(self, split: str) -> torch.Tensor:
        """0-based target rank of every example of ``split`` ``[n]`` (per-example results)."""
        return split_ranks(self.model, self.splits[split], split=split)

    def train_epoch(self, optimizer: torch.optim.Optimizer, generator: torch.Generator) -> float:
        """One pass over the shuffled training set; returns the mean batch loss."""
        self.model.train()
        data = self.splits["train"]
        order = torch.randperm(len(data), generator=generator)
        total, batches = 0.0, 0
        for batch, index in enumerate(order.split(self.config.batch_size), start=1):
            loss = self.batch_loss(index, generator)
            check_loss(loss, batch)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total += float(loss.detach())
            batches += 1
        return total / max(batches, 1)

    def batch_loss(self, index: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """The DLLM2Rec objective (:func:`~distillrec.distill.dllm2rec_loss`) of the training
        rows ``index`` ``[B]``."""
        batch = self.batch(index, generator)
        return dllm2rec_loss(
            batch.scores,
            batch.target,
            batch.negative,
            self.propensity,
            alpha=self.config.dros.alpha,
            beta=self.config.dros.beta,
            distill=self.config.distill,
            teacher=batch.teacher,
        )

    def batch(self, index: torch.Tensor, generator: torch.Generator) -> Batch:
        """What the loss of the rows ``index`` needs: negatives drawn from ``generator``, scores
        from the model in its current mode, the teacher's rows when ranking distillation is on."""
        data = self.splits["train"]
        history, target = data.history[index], data.target[index]
        negative = sample_negatives(history, target, self.model.num_items, generator)
        scores = self.model(history, data.history_len[index])  # [B, N]
        teacher = self.teacher.rows(index) if self.uses_rd else None
        return Batch(scores, target, negative, teacher)

    def save_best(self, run_id: str | None, metrics: dict[str, Any]) -> Path:
        """Fold the teacher fusion and write ``student.safetensors`` + ``student.json``."""
        from distillrec.atomic import atomic_dir
        from distillrec.training.packaging import SPEC_FILE, save_student

        self.model.fold_teacher_fusion()
        name = f"{self.run_name()}-{(run_id or 'local')[:8]}"
        target = Path(self.config.output_dir) / name
        with atomic_dir(target, kind="student model", signature=SPEC_FILE) as tmp:
            save_student(tmp, self.model, self.spec(metrics))
        return target

    def spec(self, metrics: dict[str, Any]) -> dict[str, Any]:
        return {
            "student": self.config.student,
            "model_kwargs": self.model_kwargs,
            "num_items": self.model.num_items,
            "max_history": self.model.max_history,
            "metrics": metrics,
            "dataset_fingerprint": self.dataset.fingerprint,
            "config": self.config.model_dump(),
        }

    def log_model(self, metrics: dict[str, Any]):
        from distillrec.training.packaging import log_student_model

        return log_student_model(
            self.model,
            student_name=self.config.student,
            model_kwargs=self.model_kwargs,
            items=self.dataset.items,
            max_history=self.model.max_history,
            metrics=metrics,
            artifact_path=model_name(self.dataset.meta.name, self.config.student, self.variant),
        )


def prepare_training(config: TrainConfig, teacher_dir: str | Path | None) -> TrainingSetup:
    """Load the dataset and teacher, seed everything, build tensors and the student."""
    from distillrec.data import load_prepared
    from distillrec.teacher.artifact import read_artifact, train_coverage

    dataset = load_prepared(config.dataset_path())
    meta = dataset.meta
    teacher_path = str(teacher_dir) if teacher_dir is not None else config.teacher
    artifact = None
    if teacher_path:
        min_topk = config.distill.candidate_topk if config.distill.lam > 0 else None
        artifact = read_artifact(
            teacher_path, expected_fingerprint=dataset.fingerprint, min_topk=min_topk
        )
        if artifact.num_items != meta.num_items:
            raise UserError(
                f"teacher artifact {teacher_path}: {artifact.num_items} item embeddings, the "
                f"dataset has {meta.num_items} items"
            )
    torch.manual_seed(config.seed)
    np.random.seed(config.seed)
    splits = {
        name: ExampleTensors.from_frame(dataset.split(name), meta.max_history, meta.padding_id)
        for name in ("train", "val", "test")
    }
    model, kwargs = _build_model(config, meta.num_items, meta.max_history, artifact)
    if not model.trainable:
        model.fit_counts(splits["train"].target.numpy())
    teacher, coverage = None, 0.0
    if artifact is not None:
        train_ids = splits["train"].example_id
        coverage = train_coverage(train_ids, artifact.rankings["example_id"].to_numpy())
        if config.distill.lam > 0:
            ids, items, dists = artifact.topk_arrays(config.distill.candidate_topk)
            teacher = align_teacher(train_ids, ids, items, dists)
    propensity = None
    if config.dros.alpha > 0:
        propensity = dros_propensity(splits["train"].target.numpy(), meta.num_items)
    return TrainingSetup(
        config=config,
        dataset=dataset,
        model=model,
        model_kwargs=kwargs,
        splits=splits,
        propensity=propensity,
        teacher=teacher,
        teacher_path=teacher_path,
        teacher_manifest=artifact.manifest if artifact is not None else {},
        teacher_train_coverage=coverage,
    )


def _build_model(config: TrainConfig, num_items: int, max_history: int, artifact):
    kwargs = {
        "num_items": num_items,
        "max_history": max_history,
        "hidden_size": config.hidden_size,
        "dropout": config.dropout,
    }
    try:
        model = build_student(config.student, **kwargs)
    except ValueError as err:
        raise UserError(f"student {config.student}: {err}") from None
    if artifact is not None and config.distill.ed_weight > 0 and model.trainable:
        model.attach_teacher_fusion(
            TeacherEmbeddingFusion(
                artifact.item_embeddings,
                hidden_size=config.hidden_size,
                ed_weight=config.distill.ed_weight,
                projection=config.distill.ed_projection,
            )
        )
    return model, kwargs

"""The DLLM2Rec objective of one batch: ``main + lam * ranking distillation``.

The one place the losses, the importance weights and the teacher's targets meet, so that training
(``training/setup.py``) and the training benchmark (``training/bench.py``) optimise and time the
same loss, ``covered`` rows and ``position_temperature`` included.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import torch

from distillrec.distill.losses import (
    NegativeForm,
    RdAverage,
    main_loss,
    ranking_distillation_loss,
)
from distillrec.distill.weights import ConfidenceForm, importance_weights


class RankingDistillSettings(Protocol):
    """What the objective reads of a distillation config (``training.config.DistillConfig``)."""

    lam: float
    gamma_position: float
    gamma_confidence: float
    gamma_consistency: float
    candidate_topk: int
    position_temperature: float
    confidence_temperature: float
    confidence_form: ConfidenceForm
    rd_average: RdAverage
    negative_form: NegativeForm


@dataclass
class TeacherTargets:
    """The teacher's top-K per example: ``items``/``distances`` ``[n, K]`` (best first) and
    ``covered [n]`` (False rows hold zeros and get no ranking-distillation term)."""

    items: torch.Tensor
    distances: torch.Tensor
    covered: torch.Tensor

    def rows(self, index: torch.Tensor) -> TeacherTargets:
        """The targets of the examples ``index`` ``[B]`` (a batch)."""
        return TeacherTargets(self.items[index], self.distances[index], self.covered[index])


def dllm2rec_loss(
    scores: torch.Tensor,
    target: torch.Tensor,
    negative: torch.Tensor,
    propensity: torch.Tensor | None,
    *,
    alpha: float,
    beta: float,
    distill: RankingDistillSettings,
    teacher: TeacherTargets | None = None,
) -> torch.Tensor:
    """``main_loss + lam * ranking_distillation_loss`` of a batch. Scalar.

    Args:
        scores: ``[B, N]`` student scores. target, negative: ``[B]`` (the negative is shared by
            both terms, as in the reference).
        propensity: ``[N]`` DROS propensities, or None (no DROS); ``alpha``/``beta`` its weights.
        teacher: the batch's teacher targets (``K >= candidate_topk``); None (or ``lam == 0``,
            or no covered row) leaves the main loss alone.
    """
    loss = main_loss(scores, target, negative, propensity, alpha=alpha, beta=beta)
    if teacher is None or distill.lam <= 0 or not teacher.covered.any():
        return loss
    k = distill.candidate_topk
    items = teacher.items[:, :k]
    weights = importance_weights(
        items,
        teacher.distances[:, :k],
        scores,
        gamma_position=distill.gamma_position,
        gamma_confidence=distill.gamma_confidence,
        gamma_consistency=distill.gamma_consistency,
        position_temperature=distill.position_temperature,
        confidence_temperature=distill.confidence_temperature,
        confidence_form=distill.confidence_form,
    )
    rd = ranking_distillation_loss(
        scores,
        items,
        weights,
        negative,
        propensity,
        alpha=alpha,
        beta=beta,
        negative_form=distill.negative_form,
        covered=teacher.covered,
        average=distill.rd_average,
    )
    return loss + distill.lam * rd

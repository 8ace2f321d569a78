"""Importance weights of DLLM2Rec's ranking distillation (position, confidence, consistency)."""

from __future__ import annotations

from typing import Literal

import torch

ConfidenceForm = Literal["softmax", "reference"]
REFERENCE_EPSILON = 1e-8  # the reference code's ``exp(-d) + 1e-8``


def position_weights(k: int, temperature: float = 1.0, *, device=None) -> torch.Tensor:
    """``w_p(r) ∝ exp(-r / temperature)`` for ranks ``r = 1..k``, normalised: ``-> [k]``."""
    ranks = torch.arange(1, k + 1, dtype=torch.float32, device=device)
    return torch.softmax(-ranks / temperature, dim=0)


def confidence_weights(
    distances: torch.Tensor, temperature: float = 1.0, form: ConfidenceForm = "softmax"
) -> torch.Tensor:
    """``w_c ∝ exp(-d / temperature)`` normalised over the K candidates: ``[B, K] -> [B, K]``.

    ``form="softmax"`` (default) is exact and never underflows. Raw L2 grounding distances of an
    LLM teacher are large and far apart (SmolLM2 on ml-100k: median 9.6, median gap 5.9 between
    ranks 1 and 2), so at ``temperature=1`` almost all weight lands on the first candidate; a
    larger temperature spreads it. ``form="reference"`` is the reference code's
    ``exp(-d / temperature) + 1e-8`` (``temperature=1`` there), for parity runs: at large
    distances ``exp`` underflows below the 1e-8 and the weights turn uniform.
    """
    if temperature <= 0:
        raise ValueError(f"confidence temperature must be > 0, got {temperature}")
    scaled = -distances.float() / temperature
    if form == "softmax":
        return torch.softmax(scaled, dim=1)
    if form == "reference":
        raw = torch.exp(scaled) + REFERENCE_EPSILON
        return raw / raw.sum(dim=1, keepdim=True)
    raise ValueError(f"unknown confidence form {form!r}; valid: softmax, reference")


def consistency_weights(
    teacher_items: torch.Tensor, student_scores: torch.Tensor, epsilon: float = 1e-8
) -> torch.Tensor:
    """1 where a teacher candidate is also in the student's current top-K, else 0, plus
    ``epsilon``; no gradient flows through it. ``[B, K]``, ``[B, N]`` -> ``[B, K]``."""
    k = teacher_items.shape[1]
    student_top = student_scores.detach().topk(k, dim=1).indices  # [B, K]
    common = (teacher_items.unsqueeze(2) == student_top.unsqueeze(1)).any(dim=2)
    return common.float() + epsilon


def importance_weights(
    teacher_items: torch.Tensor,
    teacher_distances: torch.Tensor,
    student_scores: torch.Tensor,
    *,
    gamma_position: float,
    gamma_confidence: float,
    gamma_consistency: float,
    position_temperature: float = 1.0,
    confidence_temperature: float = 1.0,
    confidence_form: ConfidenceForm = "softmax",
) -> torch.Tensor:
    """DLLM2Rec's per-candidate weights ``[B, K]``; every row sums to 1.

    ``w = normalise(gamma_position * w_p + gamma_confidence * w_c + gamma_consistency * w_o)``.

    Args:
        teacher_items: ``[B, K]`` the teacher's top-K item ids, best first.
        teacher_distances: ``[B, K]`` their grounding distances (smaller = more confident).
        student_scores: ``[B, N]`` the student's current scores for all items.
    """
    if teacher_items.shape != teacher_distances.shape or teacher_items.dim() != 2:
        raise ValueError("teacher_items and teacher_distances must both be [batch, K]")
    gammas = (gamma_position, gamma_confidence, gamma_consistency)
    if min(gammas) < 0 or sum(gammas) <= 0:
        raise ValueError(f"gammas must be >= 0 with a positive sum, got {gammas}")
    k = teacher_items.shape[1]
    with torch.no_grad():
        combined = (
            gamma_position * position_weights(k, position_temperature, device=teacher_items.device)
            + gamma_confidence
            * confidence_weights(teacher_distances, confidence_temperature, confidence_form)
            + gamma_consistency * consistency_weights(teacher_items, student_scores)
        )
        return combined / combined.sum(dim=1, keepdim=True)

"""Importance weights of DLLM2Rec's ranking distillation (position, confidence, consistency)."""

from __future__ import annotations

import torch


def position_weights(k: int, temperature: float = 1.0, *, device=None) -> torch.Tensor:
    """``w_p(r) ∝ exp(-r / temperature)`` for ranks ``r = 1..k``, normalised: ``-> [k]``."""
    ranks = torch.arange(1, k + 1, dtype=torch.float32, device=device)
    return torch.softmax(-ranks / temperature, dim=0)


def confidence_weights(distances: torch.Tensor) -> torch.Tensor:
    """``w_c ∝ exp(-d)`` normalised over the K candidates: ``[B, K] -> [B, K]``.

    Computed as a softmax, which is exact and does not underflow for large distances (the
    reference adds 1e-8 to ``exp(-d)`` instead, which turns large distances into uniform weights).
    """
    return torch.softmax(-distances.float(), dim=1)


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
            + gamma_confidence * confidence_weights(teacher_distances)
            + gamma_consistency * consistency_weights(teacher_items, student_scores)
        )
        return combined / combined.sum(dim=1, keepdim=True)

"""DLLM2Rec's losses: the main loss (BCE with a sampled negative + DROS) and the importance-aware
ranking-distillation loss, vectorised over the K teacher candidates.

Conventions, matching the reference code (``istarryn/DLLM2Rec``, ``main.py``):

- Main BCE is ``BCEWithLogitsLoss`` over the concatenated ``[positives; negatives]`` (2B values),
  i.e. ``0.5 * (mean_b -log σ(s_pos) + mean_b -log σ(-s_neg))``.
- The ranking term for candidate k of example b is ``-log σ(s_k) - log σ(-s_neg)`` (not halved)
  plus ``alpha *`` the DROS term with k as the positive; ``loss_rd = mean_b sum_k w_bk * term_bk``.
- ``negative_form="reference"`` reproduces the reference's ``-log σ(1 - s_neg)`` for the negative's
  term in the ranking loss; ``"standard"`` (default) uses the correct ``-log σ(-s_neg)``. The shift
  by 1 asks the negative's score to sit below 1 instead of below 0, a weaker push.
- The reference multiplies the ``[B, 1]`` weights with a squeezed ``[B]`` DROS term, which
  broadcasts to ``[B, B]`` and weights every example's DROS term by the batch-mean weight; we weight
  each example's own term (the formula of the paper), in both negative forms.
- DROS is computed in log-space, in the scores' dtype (the reference promotes to float64 through
  its float64 propensities; float32 log-space agrees with it to ~1e-6 and costs half as much).
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
import torch
from torch.nn import functional as F

NegativeForm = Literal["standard", "reference"]
RdAverage = Literal["covered", "batch"]


def dros_propensity(targets: np.ndarray, num_items: int) -> torch.Tensor:
    """DROS item propensities from training-target counts: ``((count+1)/sum)^0.05``: ``[N]``."""
    counts = np.bincount(np.asarray(targets, dtype=np.int64), minlength=num_items)[:num_items]
    ps = (counts + 1.0) / float(np.sum(counts + 1.0))
    return torch.from_numpy(np.power(ps, 0.05)).float()


def dros_terms(
    scores: torch.Tensor, positives: torch.Tensor, propensity: torch.Tensor, beta: float
) -> torch.Tensor:
    """``log(sum_j e^{a_j} - e^{a_t} + e^{c_t})`` with ``a_j = ps_j s_j^2 / beta`` and
    ``c_t = ps_t (s_t - 1)^2 / beta``, for each positive ``t``: ``[B, N]``, ``[B, K]`` ->
    ``[B, K]``.

    Log-space (``logsumexp``), so large scores cannot overflow as the reference's ``exp`` can.
    """
    s = scores
    scale = propensity.to(device=s.device, dtype=s.dtype) / beta  # [N]
    a = s * s * scale  # [B, N]
    lse = torch.logsumexp(a, dim=1, keepdim=True)  # [B, 1]
    s_pos = s.gather(1, positives)  # [B, K]
    scale_pos = scale[positives]
    a_pos = s_pos * s_pos * scale_pos
    c_pos = (s_pos - 1.0) ** 2 * scale_pos
    # log(sum_{j != t} e^{a_j}); every a_j >= 0, so that sum is at least N - 1.
    log_rest = lse + torch.log((-torch.expm1(a_pos - lse)).clamp_min(1e-30))
    num_items = scores.shape[1]
    log_rest = log_rest.clamp_min(math.log(num_items - 1) if num_items > 1 else -math.inf)
    return torch.logaddexp(log_rest, c_pos)


def main_loss(
    scores: torch.Tensor,
    target: torch.Tensor,
    negative: torch.Tensor,
    propensity: torch.Tensor | None,
    *,
    alpha: float = 1.0,
    beta: float = 1.0,
) -> torch.Tensor:
    """BCE of the target against one sampled negative, plus ``alpha *`` DROS. Scalar.

    Args:
        scores: ``[B, N]`` student scores. target, negative: ``[B]`` item ids.
        propensity: ``[N]`` DROS propensities (``None`` or ``alpha == 0``: no DROS).
    """
    pos = scores.gather(1, target.view(-1, 1)).squeeze(1)
    neg = scores.gather(1, negative.view(-1, 1)).squeeze(1)
    loss = 0.5 * (F.softplus(-pos).mean() + F.softplus(neg).mean())
    if alpha and propensity is not None:
        dros = dros_terms(scores, target.view(-1, 1), propensity, beta).mean()
        loss = loss + alpha * dros
    return loss


def ranking_distillation_loss(
    scores: torch.Tensor,
    candidates: torch.Tensor,
    weights: torch.Tensor,
    negative: torch.Tensor,
    propensity: torch.Tensor | None,
    *,
    alpha: float = 1.0,
    beta: float = 1.0,
    negative_form: NegativeForm = "standard",
    covered: torch.Tensor | None = None,
    average: RdAverage = "covered",
) -> torch.Tensor:
    """Importance-aware ranking distillation, vectorised over the K candidates. Scalar.

    Args:
        scores: ``[B, N]`` student scores.
        candidates: ``[B, K]`` teacher top-K item ids (any id where ``covered`` is False).
        weights: ``[B, K]`` importance weights (rows sum to 1), see ``importance_weights``.
        negative: ``[B]`` the sampled negative of each example (shared with the main loss).
        covered: ``[B]`` bool, examples with teacher output (None = all); the others add 0.
        average: ``"covered"`` (default) averages over the covered examples only, so ``lam``
            means the same at 2% and at 100% teacher coverage; ``"batch"`` averages over all B
            examples (the platform's behaviour before issue 13), which scales the term by the
            batch's coverage: at 2% coverage ``lam=0.8`` acts like ``lam=0.016``.
    """
    pos = scores.gather(1, candidates)  # [B, K]
    neg = scores.gather(1, negative.view(-1, 1))  # [B, 1]
    if negative_form == "standard":
        neg_term = F.softplus(neg)  # -log σ(-s_neg)
    elif negative_form == "reference":
        neg_term = -F.logsigmoid(1.0 - neg)
    else:
        raise ValueError(f"unknown negative_form {negative_form!r}; valid: standard, reference")
    per_candidate = F.softplus(-pos) + neg_term  # [B, K]
    if alpha and propensity is not None:
        dros = dros_terms(scores, candidates, propensity, beta)
        per_candidate = per_candidate + alpha * dros
    per_example = (weights * per_candidate).sum(dim=1)  # [B]
    if covered is None:
        return per_example.mean()
    mask = covered.to(per_example.dtype)
    if average == "covered":
        return (per_example * mask).sum() / mask.sum().clamp_min(1.0)
    if average == "batch":
        return (per_example * mask).mean()
    raise ValueError(f"unknown ranking-distillation average {average!r}; valid: covered, batch")

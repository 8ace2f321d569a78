"""The DLLM2Rec reference loss written the way its ``main.py`` computes it: a Python loop over the
K candidates, full ``argsort`` for the student's top-K, DROS recomputed per candidate with direct
``exp`` in float64. Kept only as the parity baseline for tests and ``jobs/bench_training.py``.

One deliberate deviation: the reference multiplies the ``[B, 1]`` weight column with a
squeezed ``[B]`` DROS vector, which broadcasts to ``[B, B]``; here each example's DROS term is
weighted by its own weight (``[B]`` x ``[B]``), the formula of the paper and of
:mod:`distillrec.distill.losses`.
"""

from __future__ import annotations

import torch
from torch import nn


def reference_main_loss(
    scores: torch.Tensor,
    target: torch.Tensor,
    negative: torch.Tensor,
    ps: torch.Tensor | None,
    alpha: float,
    beta: float,
) -> torch.Tensor:
    """BCEWithLogitsLoss over [pos; neg] plus alpha * mean log(DROS inner), as in the reference."""
    batch = scores.shape[0]
    pos = torch.gather(scores, 1, target.view(batch, 1))
    neg = torch.gather(scores, 1, negative.view(batch, 1))
    labels = torch.cat((torch.ones(batch, 1), torch.zeros(batch, 1)), 0)
    loss = nn.BCEWithLogitsLoss()(torch.cat((pos, neg), 0), labels)
    if alpha == 0 or ps is None:
        return loss
    ps = ps.double()
    tgt = target.view(batch, 1)
    pos_dro = torch.squeeze(torch.gather(torch.mul(scores * scores, ps), 1, tgt))
    pos_loss_dro = torch.squeeze(torch.gather(torch.mul((scores - 1) * (scores - 1), ps), 1, tgt))
    inner = (
        torch.sum(torch.exp(torch.mul(scores * scores, ps) / beta), 1)
        - torch.exp(pos_dro / beta)
        + torch.exp(pos_loss_dro / beta)
    )
    return loss + alpha * torch.mean(torch.log(inner + 1e-24))


def reference_weights(
    candidate: torch.Tensor,
    confidence: torch.Tensor,
    scores: torch.Tensor,
    gamma_position: float,
    gamma_confidence: float,
    gamma_consistency: float,
    position_temperature: float = 1.0,
    confidence_temperature: float = 1.0,
    confidence_form: str = "reference",
) -> torch.Tensor:
    """The reference's weight computation (argsort over all items, ``exp(-d) + 1e-8``).

    The reference's rank and confidence temperatures are 1.0; ``position_temperature`` and
    ``confidence_temperature`` are our switches for them (``d`` is divided by the latter, as the
    ranks by the former). ``confidence_form="reference"`` keeps the reference's
    ``exp(-d/T) + 1e-8``; ``"softmax"`` is our exact form, written here the textbook way (shift
    by the row's smallest distance, then ``exp``), not by calling ours.
    """
    batch, k = candidate.shape
    ranks = torch.arange(1, k + 1, dtype=torch.float32)
    weight_static = torch.exp(-ranks / position_temperature)
    weight_static = weight_static.unsqueeze(0).repeat(batch, 1)
    weight_rank = weight_static / torch.sum(weight_static, dim=1).unsqueeze(1)
    cf_rank_top = (-scores).argsort(dim=1)[:, :k]
    weight_com = (candidate.unsqueeze(2) == cf_rank_top.unsqueeze(1)).any(dim=2).int() + 1e-8
    confidence = confidence / confidence_temperature
    if confidence_form == "reference":
        weight_confidence = torch.exp(-confidence) + 1e-8
    elif confidence_form == "softmax":
        nearest = torch.min(confidence, dim=1).values.unsqueeze(1)
        weight_confidence = torch.exp(-(confidence - nearest))
    else:
        raise ValueError(f"unknown confidence form {confidence_form!r}")
    weight_confidence = weight_confidence / torch.sum(weight_confidence, dim=1).unsqueeze(1)
    weight_fin = (
        gamma_position * weight_rank
        + gamma_confidence * weight_confidence
        + gamma_consistency * weight_com
    )
    return weight_fin / torch.sum(weight_fin, dim=1).unsqueeze(1)


def reference_ranking_loss(
    scores: torch.Tensor,
    candidate: torch.Tensor,
    weight: torch.Tensor,
    negative: torch.Tensor,
    ps: torch.Tensor | None,
    alpha: float,
    beta: float,
    negative_form: str = "reference",
) -> torch.Tensor:
    """The per-candidate loop of the reference (``for i_ in range(num_candidate)``)."""
    batch = scores.shape[0]
    target_neg = negative.view(batch, 1)
    total = 0
    for i_ in range(candidate.size(1)):
        target = candidate[:, i_ : i_ + 1]
        pos_scores = torch.gather(scores, 1, target)
        neg_scores = torch.gather(scores, 1, target_neg)
        shift = 1 if negative_form == "reference" else 0
        loss_bce_rd = -(
            torch.log(torch.sigmoid(pos_scores)) + torch.log(torch.sigmoid(shift - neg_scores))
        )
        w = weight[:, i_ : i_ + 1]
        if alpha != 0 and ps is not None:
            psd = ps.double()
            pos_scores_dro = torch.squeeze(torch.gather(torch.mul(scores * scores, psd), 1, target))
            pos_loss_dro = torch.squeeze(
                torch.gather(torch.mul((scores - 1) * (scores - 1), psd), 1, target)
            )
            a = torch.sum(torch.exp(torch.mul(scores * scores, psd) / beta), 1)
            inner = a - torch.exp(pos_scores_dro / beta) + torch.exp(pos_loss_dro / beta)
            loss_dro_rd = torch.log(inner + 1e-24)  # [B]
            total = total + (w * loss_bce_rd).mean() + alpha * (w.squeeze(1) * loss_dro_rd).mean()
        else:
            total = total + (w * loss_bce_rd).mean()
    return total

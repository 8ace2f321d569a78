"""A student's HR@k and NDCG@k over the full item set: target ranks computed batch by batch
(never all scores at once), the metrics from them by :mod:`distillrec.ranking_metrics`."""

from __future__ import annotations

import torch

from distillrec.ranking_metrics import metrics_from_ranks
from distillrec.students.base import SequentialRecommender
from distillrec.training.batches import ExampleTensors
from distillrec.training.finite import check_scores

EVAL_BATCH_SIZE = 1024


def target_ranks(scores: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """0-based rank of each target among all items: ``[B, N]``, ``[B]`` -> ``[B]``.

    Ties are broken by item id (a lower id ranks first), like a stable descending sort, so a
    constant scorer is neither rewarded nor punished by ties. A row holding any NaN/inf score
    ranks its target last (a miss): comparisons with NaN are False and would otherwise rank it
    first.
    """
    target_score = scores.gather(1, target.view(-1, 1))  # [B, 1]
    higher = (scores > target_score).sum(dim=1)
    ids = torch.arange(scores.shape[1], device=scores.device).unsqueeze(0)
    tied_before = ((scores == target_score) & (ids < target.view(-1, 1))).sum(dim=1)
    broken = ~torch.isfinite(scores).all(dim=1)
    return torch.where(broken, scores.shape[1], higher + tied_before)


@torch.no_grad()
def split_ranks(
    model: SequentialRecommender,
    examples: ExampleTensors,
    batch_size: int = EVAL_BATCH_SIZE,
    split: str = "evaluation",
) -> torch.Tensor:
    """0-based rank of every example's target among all items ``[n]`` (model put in eval mode).

    Raises :class:`~distillrec.training.finite.NonFiniteError` on any NaN/inf score."""
    model.eval()
    ranks = []
    for start in range(0, len(examples), batch_size):
        stop = start + batch_size
        scores = model(examples.history[start:stop], examples.history_len[start:stop])
        check_scores(scores, split)
        ranks.append(target_ranks(scores, examples.target[start:stop]))
    return torch.cat(ranks) if ranks else torch.zeros(0, dtype=torch.long)


def evaluate(
    model: SequentialRecommender,
    examples: ExampleTensors,
    batch_size: int = EVAL_BATCH_SIZE,
    split: str = "evaluation",
) -> dict[str, float]:
    """HR and NDCG at 1, 5, 10, 20 of ``model`` on a split (model put in eval mode).

    Raises :class:`~distillrec.training.finite.NonFiniteError` on any NaN/inf score."""
    return metrics_from_ranks(split_ranks(model, examples, batch_size, split))

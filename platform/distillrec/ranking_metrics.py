"""HR@k and NDCG@k from 0-based target ranks: the one formula of the package.

The students' evaluation (``training/metrics.py``), the per-example values a study's paired
bootstrap resamples (``study/report.py``), the teacher's own evaluation (``teacher/evaluation.py``)
and the report floors (``teacher/quality.py``: random, popularity) all compute their HR and NDCG
here, so a student's, a teacher's and a floor's numbers mean the same thing.

An example's ``hr@k`` is 1 when its target's 0-based rank ``r < k``, else 0; its ``ndcg@k`` is
``1 / log2(r + 2)`` when ``r < k``, else 0 (one relevant item, so the ideal DCG is 1). Ties are
settled before a rank reaches here: the students' evaluation ranks a target after every item
scored higher and every lower id scored the same (``training.metrics.target_ranks``). A rank that
is not finite counts as a miss at every cutoff, like a row with a NaN/inf score, which the
students' evaluation ranks last: :data:`MISS` is the rank of a target that was not ranked at all
(a teacher's top-K without it).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

CUTOFFS = (1, 5, 10, 20)  # what students and teachers are evaluated at
METRICS = ("hr", "ndcg")
MISS = math.inf  # the rank of a target that was not ranked: a miss at every cutoff


def as_ranks(ranks: Any) -> np.ndarray:
    """0-based target ranks (numpy, a torch tensor on any device, a list) as float64 ``[n]``;
    negative ranks are refused (a teacher's "absent" is :data:`MISS`, not -1)."""
    if hasattr(ranks, "detach"):  # a torch tensor, wherever it lives
        ranks = ranks.detach().cpu().numpy()
    ranks = np.asarray(ranks, dtype=np.float64).reshape(-1)
    if (ranks < 0).any():
        raise ValueError("target ranks are 0-based: a negative rank is not a rank")
    return ranks


def per_example_metric(ranks: Any, metric: str) -> np.ndarray:
    """Each example's ``hr@k`` (0/1) or ``ndcg@k`` (``1/log2(rank+2)`` inside the top k, else
    0) from its 0-based target rank ``[n]``; a rank ``>= k`` or not finite is a miss."""
    name, _, cutoff = metric.partition("@")
    if name not in METRICS or not cutoff.isdigit():
        raise ValueError(f"unknown metric {metric!r}; valid: hr@k, ndcg@k")
    ranks = as_ranks(ranks)
    hit = ranks < int(cutoff)  # False for inf and NaN
    if name == "hr":
        return hit.astype(np.float64)
    return np.where(hit, 1.0 / np.log2(np.where(hit, ranks, 0.0) + 2.0), 0.0)


def metrics_from_ranks(ranks: Any, cutoffs: Sequence[int] = CUTOFFS) -> dict[str, float]:
    """``{"hr@k": ..., "ndcg@k": ...}`` for every ``k`` in ``cutoffs``: the means over examples
    of :func:`per_example_metric` (0.0 for no example)."""
    ranks = as_ranks(ranks)
    out: dict[str, float] = {}
    for k in cutoffs:
        for name in METRICS:
            key = f"{name}@{k}"
            out[key] = float(per_example_metric(ranks, key).mean()) if len(ranks) else 0.0
    return out

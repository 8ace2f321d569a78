"""The teacher as a recommender in its own right: HR and NDCG of its grounded top-K (BIGRec),
by the students' formula (:mod:`distillrec.ranking_metrics`)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from distillrec.ranking_metrics import CUTOFFS, MISS, metrics_from_ranks


def hit_ranks(rankings: Sequence[Sequence[int]], targets: Sequence[int]) -> np.ndarray:
    """0-based rank of each target in its ranking, or -1 when absent. ``[n]`` int64."""
    ranks = np.full(len(targets), -1, dtype=np.int64)
    for row, (items, target) in enumerate(zip(rankings, targets, strict=True)):
        hits = np.flatnonzero(np.asarray(items) == int(target))
        if len(hits):
            ranks[row] = int(hits[0])
    return ranks


def ranking_metrics(ranks: np.ndarray, cutoffs: Sequence[int] = CUTOFFS) -> dict[str, float]:
    """``hr@k`` and ``ndcg@k`` of :func:`hit_ranks` ranks: a target absent from the top-K (-1)
    is a miss at every cutoff (:data:`~distillrec.ranking_metrics.MISS`)."""
    ranks = np.asarray(ranks)
    return metrics_from_ranks(np.where(ranks >= 0, ranks, MISS), cutoffs)


def evaluate_rankings(
    rankings: pd.DataFrame, examples: pd.DataFrame, cutoffs: Sequence[int] = CUTOFFS
) -> dict[str, float] | None:
    """Metrics over the examples of one split that the teacher ranked (None when none)."""
    merged = examples[["example_id", "next_item"]].merge(rankings, on="example_id")
    if merged.empty:
        return None
    metrics = ranking_metrics(hit_ranks(merged["items"], merged["next_item"]), cutoffs)
    metrics["num_examples"] = float(len(merged))
    return metrics


def sample_rows(frame: pd.DataFrame, n: int | None, seed: int) -> pd.DataFrame:
    """``n`` rows of ``frame`` chosen by ``seed`` (all rows when ``n`` is None or larger).

    The first ``n`` of one seeded permutation, the rule ``teacher infer`` selects val/test rows
    by (``sample.eval_limit``, ``sample.seed``): ``teacher evaluate --sample N --seed S`` scores
    exactly the rows an inference with ``eval_limit=N`` and ``seed=S`` ranked, and a smaller
    ``n`` is a prefix of a larger one."""
    take = len(frame) if n is None else min(int(n), len(frame))
    order = np.random.default_rng(seed).permutation(len(frame))[:take]
    return frame.iloc[order]


def rows_digest(example_ids: Sequence[int]) -> str:
    """A short name of a set of rows: sha256 of the sorted ``example_id``s joined by commas,
    first 12 hex digits."""
    import hashlib

    text = ",".join(str(int(i)) for i in sorted(example_ids))
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def format_metrics(split: str, metrics: dict[str, float]) -> str:
    """One printable line, e.g. ``test (n=300): hr@1 0.0033 ... ndcg@20 0.0123``."""
    keys = [f"{m}@{k}" for m in ("hr", "ndcg") for k in CUTOFFS if f"{m}@{k}" in metrics]
    body = "  ".join(f"{key} {metrics[key]:.4f}" for key in keys)
    return f"{split} (n={int(metrics.get('num_examples', 0))}): {body}"

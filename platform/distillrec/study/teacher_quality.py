"""The teacher in every report: its own quality on the val/test rows it ranked, the floors on the
same rows (random, popularity), its training coverage and where it came from."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

CUTOFF = 20


def random_expectation(num_items: int, k: int = CUTOFF) -> dict[str, float]:
    """Expected ``hr@k``/``ndcg@k`` of a uniformly random ranking of ``num_items`` items (the
    target is equally likely at every rank): ``k/N`` and ``(1/N) sum_{r<k} 1/log2(r+2)``."""
    k = min(k, num_items)
    return {
        f"hr@{CUTOFF}": k / num_items,
        f"ndcg@{CUTOFF}": sum(1.0 / math.log2(r + 2) for r in range(k)) / num_items,
    }


def popularity_metrics(train_targets: np.ndarray, rows: Any, num_items: int) -> dict[str, float]:
    """Most-frequent-training-target ranking on ``rows`` (ties by item id, like the students')."""
    import torch

    from distillrec.training.metrics import metrics_from_ranks, target_ranks

    counts = np.bincount(np.asarray(train_targets, dtype=np.int64), minlength=num_items)
    scores = torch.from_numpy(counts[:num_items].astype(np.float32)).unsqueeze(0)
    target = torch.from_numpy(rows["next_item"].to_numpy(dtype=np.int64).copy())
    ranks = target_ranks(scores.expand(len(target), -1), target)
    metrics = metrics_from_ranks(ranks, cutoffs=(CUTOFF,))
    return {key: metrics[key] for key in (f"hr@{CUTOFF}", f"ndcg@{CUTOFF}")}


def teacher_summary(dataset_path: str | Path, teacher_path: str | Path | None) -> dict[str, Any]:
    """Coverage, quality vs floors and provenance of a teacher artifact on a prepared dataset.

    ``quality[split]`` holds ``n`` (rows the teacher ranked) and teacher/random/popularity
    ``hr@20``/``ndcg@20`` on exactly those rows; it is empty when the teacher ranked none.
    """
    from distillrec.data import load_prepared
    from distillrec.teacher.artifact import manifest_sha256, read_artifact
    from distillrec.teacher.evaluation import evaluate_rankings

    if not teacher_path:
        return {}
    data = load_prepared(dataset_path)
    art = read_artifact(teacher_path, expected_fingerprint=data.fingerprint)
    ranked = set(art.rankings["example_id"].tolist())
    train_ids = data.train["example_id"]
    quality: dict[str, dict[str, float]] = {}
    num_items = data.meta.num_items
    for split in ("val", "test"):
        frame = data.split(split)
        rows = frame[frame["example_id"].isin(ranked)]
        if rows.empty:
            continue
        teacher = evaluate_rankings(art.rankings, rows, cutoffs=(CUTOFF,)) or {}
        popular = popularity_metrics(data.train["next_item"].to_numpy(), rows, num_items)
        entry = {"n": float(len(rows))}
        for name, metrics in (
            ("teacher", teacher),
            ("random", random_expectation(num_items)),
            ("popularity", popular),
        ):
            for key in (f"hr@{CUTOFF}", f"ndcg@{CUTOFF}"):
                entry[f"{name} {key}"] = float(metrics.get(key, math.nan))
        quality[split] = entry
    manifest = art.manifest
    return {
        "artifact": str(Path(teacher_path).resolve()),
        "manifest_sha256": manifest_sha256(teacher_path),
        "kind": manifest.get("kind", manifest.get("source", "")),
        "model": _model_text(manifest.get("model"), manifest.get("source", "")),
        "prompt": _prompt_text(manifest.get("prompt", "")),
        "grounding": manifest.get("grounding", ""),
        "topk": manifest.get("topk"),
        "train_coverage_pct": 100.0 * float(train_ids.isin(ranked).mean())
        if len(train_ids)
        else 0.0,
        "quality": quality,
    }


def _prompt_text(prompt: Any) -> str:
    """The prompt's instruction (BIGRec manifests hold the whole prompt config)."""
    if isinstance(prompt, dict):
        return str(prompt.get("instruction", prompt))
    return str(prompt)


def _model_text(model: Any, source: str) -> str:
    """A short name of the teacher model: an LLM's base model, or a student and its URI."""
    if isinstance(model, dict):
        if "base_model" in model:
            return str(model["base_model"])
        if "uri" in model:
            kwargs = model.get("model_kwargs", {})
            hidden = f", hidden {kwargs['hidden_size']}" if "hidden_size" in kwargs else ""
            return f"{model.get('student', 'student')}{hidden} ({model['uri']})"
    return str(model or source)

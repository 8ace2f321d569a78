"""The teacher in every report (sweeps and studies): its own quality on the val/test rows it
ranked, the floors on the same rows (random, popularity), its training coverage and where it came
from."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from distillrec.contracts import split_metrics
from distillrec.data import load_prepared
from distillrec.ranking_metrics import metrics_from_ranks
from distillrec.teacher.artifact import (
    manifest_sha256,
    ranked_mask,
    read_artifact,
    train_coverage,
)
from distillrec.teacher.evaluation import CUTOFFS, evaluate_rankings, rows_digest, sample_rows

CUTOFF = 20


def random_expectation(
    num_items: int, cutoffs: int | Sequence[int] = (CUTOFF,)
) -> dict[str, float]:
    """Expected ``hr@k``/``ndcg@k`` of a uniformly random ranking of ``num_items`` items, for each
    cutoff ``k`` (one int or several): the target is equally likely at every rank ``0..N-1``, so
    the expectation is the metrics' mean over those ranks (``min(k, N)/N`` and
    ``(1/N) sum_{r<k} 1/log2(r+2)``)."""
    ks = (cutoffs,) if isinstance(cutoffs, int) else tuple(cutoffs)
    return metrics_from_ranks(np.arange(num_items), cutoffs=ks)


def popularity_metrics(
    train_targets: np.ndarray, rows: Any, num_items: int, cutoffs: Sequence[int] = (CUTOFF,)
) -> dict[str, float]:
    """Most-frequent-training-target ranking on ``rows``; ties broken by item id (a lower id
    first), as the students' evaluation breaks them."""
    counts = np.bincount(np.asarray(train_targets, dtype=np.int64), minlength=num_items)[:num_items]
    order = np.lexsort((np.arange(num_items), -counts))  # by count descending, then by id
    item_rank = np.empty(num_items, dtype=np.int64)
    item_rank[order] = np.arange(num_items)
    ranks = item_rank[rows["next_item"].to_numpy(dtype=np.int64)]
    return metrics_from_ranks(ranks, cutoffs=tuple(cutoffs))


def score_artifact(
    art: Any,
    data: Any,
    *,
    sample: int | None = None,
    seed: int = 0,
    splits: Sequence[str] = ("val", "test"),
) -> dict[str, dict[str, Any]]:
    """The teacher, popularity and random (HR/NDCG@1/5/10/20) on the same rows of each split.

    The rows are the split's rows the artifact ranked; with ``sample`` only those among ``sample``
    rows chosen by ``seed`` (:func:`~distillrec.teacher.evaluation.sample_rows`, the rule
    ``teacher infer`` selects val/test rows by). Per split: ``sampled`` (rows chosen),
    ``split_rows``, ``n`` (rows scored), ``rows_sha256`` and ``example_ids`` of the scored rows,
    and the three metric dicts.
    """
    ranked = set(art.rankings["example_id"].tolist())
    targets = data.train["next_item"].to_numpy()
    num_items = data.meta.num_items
    scores: dict[str, dict[str, Any]] = {}
    for split in splits:
        frame = data.split(split)
        chosen = frame if sample is None else sample_rows(frame, sample, seed)
        rows = chosen[chosen["example_id"].isin(ranked)]
        if rows.empty:
            continue
        ids = sorted(int(i) for i in rows["example_id"])
        scores[split] = {
            "split_rows": len(frame),
            "sampled": len(chosen),
            "n": len(rows),
            "rows_sha256": rows_digest(ids),
            "example_ids": ids,
            "teacher": evaluate_rankings(art.rankings, rows),
            "popularity": popularity_metrics(targets, rows, num_items, CUTOFFS),
            "random": random_expectation(num_items, CUTOFFS),
        }
    return scores


def score_metric_keys(scores: dict[str, dict[str, Any]], sampled: bool) -> dict[str, float]:
    """MLflow names of :func:`score_artifact`'s metrics: ``val_hr_20``, ``val_popularity_hr_20``,
    ``val_random_hr_20``; on a seeded sample the prefix is ``val_sample`` (``val_sample_hr_20``),
    so a sample never overwrites the all-rows values inference logged."""
    flat: dict[str, float] = {}
    for split, entry in scores.items():
        prefix = f"{split}_sample" if sampled else split
        flat.update(split_metrics(prefix, entry["teacher"]))
        flat.update(split_metrics(f"{prefix}_popularity", entry["popularity"]))
        flat.update(split_metrics(f"{prefix}_random", entry["random"]))
    return flat


def teacher_train_coverage(dataset_path: str | Path, teacher_path: str | Path) -> float:
    """The teacher's training coverage on a prepared dataset
    (:func:`~distillrec.teacher.artifact.train_coverage`), from the files."""
    data = load_prepared(dataset_path)
    art = read_artifact(teacher_path, expected_fingerprint=data.fingerprint)
    return train_coverage(data.train["example_id"].to_numpy(), _ranked_ids(art))


def _ranked_ids(art: Any) -> np.ndarray:
    return art.rankings["example_id"].to_numpy()


def teacher_summary(dataset_path: str | Path, teacher_path: str | Path | None) -> dict[str, Any]:
    """Coverage, quality vs floors and provenance of a teacher artifact on a prepared dataset.

    ``quality[split]`` holds ``n`` (rows the teacher ranked) and teacher/random/popularity
    ``hr@20``/``ndcg@20`` on exactly those rows; it is empty when the teacher ranked none.
    """
    if not teacher_path:
        return {}
    data = load_prepared(dataset_path)
    art = read_artifact(teacher_path, expected_fingerprint=data.fingerprint)
    ranked = _ranked_ids(art)
    quality: dict[str, dict[str, float]] = {}
    num_items = data.meta.num_items
    for split in ("val", "test"):
        frame = data.split(split)
        rows = frame[ranked_mask(frame["example_id"].to_numpy(), ranked)]
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
        "provenance": provenance_text(manifest),
        "train_coverage": train_coverage(data.train["example_id"].to_numpy(), ranked),
        "quality": quality,
    }


def provenance_text(manifest: dict[str, Any]) -> str:
    """One line: engine, model hash, LoRA run, seeds and libraries of a manifest's
    ``provenance`` block (``-`` for a manifest written before it existed)."""
    prov = manifest.get("provenance")
    if not isinstance(prov, dict):
        return "-"
    engine = prov.get("engine") or {}
    parts = [f"{engine.get('name', '?')} {engine.get('version') or ''}".strip()]
    if engine.get("runtime"):
        parts[0] += f" ({engine['runtime']})"
    sha = (prov.get("model") or {}).get("sha256")
    if sha:
        parts.append(f"model sha256 {sha[:12]}")
    finetune = prov.get("finetune") or {}
    if finetune:
        parts.append(f"LoRA run {finetune.get('mlflow_run_id') or 'unknown'}")
    seeds = prov.get("seeds") or {}
    if seeds:
        parts.append("seeds " + ", ".join(f"{k} {v}" for k, v in seeds.items() if v is not None))
    libraries = prov.get("libraries") or {}
    parts.append(", ".join(f"{k} {v}" for k, v in libraries.items() if v))
    return "; ".join(p for p in parts if p)


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


def quality_markdown(teacher: dict[str, Any]) -> list[str]:
    """The report's teacher block (Markdown lines) from :func:`teacher_summary`."""
    if not teacher:
        return ["Teacher: none (baselines only).", ""]
    lines = [
        "## Teacher",
        "",
        f"- artifact: `{teacher['artifact']}`",
        f"- manifest sha256: `{teacher['manifest_sha256']}`",
        f"- model: `{_short(teacher.get('model'))}`; kind: `{_short(teacher.get('kind'))}`",
        f"- prompt: {_short(teacher.get('prompt')) or '-'}",
        f"- grounding: `{_short(teacher.get('grounding')) or '-'}`; top-K {teacher.get('topk')}",
        f"- provenance: {_short(teacher.get('provenance') or '-', 240)}",
        f"- training coverage: **{100 * teacher['train_coverage']:.1f}%** of training rows ranked",
        "",
    ]
    quality = teacher.get("quality") or {}
    if not quality:
        return [*lines, "The teacher ranked no val/test rows: its own quality is unknown.", ""]
    lines += [
        "| split (rows the teacher ranked) | teacher HR@20 | teacher NDCG@20 | random HR@20 | "
        "random NDCG@20 | popularity HR@20 | popularity NDCG@20 |",
        "|---|---|---|---|---|---|---|",
    ]
    for split, q in quality.items():
        cells = [f"{split} (n={int(q['n'])})"] + [
            f"{q[f'{who} {m}']:.4f}"
            for who in ("teacher", "random", "popularity")
            for m in ("hr@20", "ndcg@20")
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return [
        *lines,
        "",
        "Random is the exact expectation; popularity ranks training targets by count.",
        "",
    ]


def _short(value: Any, limit: int = 120) -> str:
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)
    return text if len(text) <= limit else text[: limit - 3] + "..."

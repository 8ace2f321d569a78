"""The teacher artifact's manifest (how it was made, throughput), its metrics and its MLflow run."""

from __future__ import annotations

import datetime as dt
import resource
from pathlib import Path
from typing import Any

import pandas as pd

from distillrec.contracts import metric_key
from distillrec.teacher.config import TeacherConfig


def generating_seconds(stats: dict[str, Any]) -> float:
    """First block's start to last block's end over all replicas (0 when nothing was generated)."""
    return max(stats["last_finished"] - stats["first_started"], 1e-9) if stats["rows"] else 0.0


def throughput(stats: dict[str, Any]) -> dict[str, float]:
    """prompts/s and generated tokens/s of this run (engine start included), s per example;
    ``prompts_per_s_generating`` excludes the engine start (first block's start to last block's
    end, all replicas together) and ``prompts_per_s_engine_busy`` is the rate of one engine."""
    rows, wall = stats["rows"], max(stats["wall_seconds"], 1e-9)
    busy = max(stats["generate_seconds"], 1e-9)
    span = generating_seconds(stats)
    return {
        "prompts": rows,
        "blocks": stats["blocks"],
        "wall_seconds": round(wall, 3),
        "prompts_per_s": rows / wall,
        "generated_tokens": stats["tokens"],
        "generated_tokens_per_s": stats["tokens"] / wall,
        "seconds_per_example": wall / rows if rows else None,
        "engine_busy_seconds": round(stats["generate_seconds"], 3),
        "prompts_per_s_engine_busy": rows / busy if rows else None,
        "generating_seconds": round(span, 3),
        "prompts_per_s_generating": rows / span if rows else None,
    }


def build_manifest(
    cfg: TeacherConfig,
    data: Any,
    selected: pd.DataFrame,
    parts: pd.DataFrame,
    stats: dict[str, Any],
    total_seconds: float,
) -> dict[str, Any]:
    """Everything needed to know how the artifact was made (Contract 2 keys included)."""
    driver_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    examples = parts.head(5)[["example_id", "generation", "items"]]
    return {
        "kind": "bigrec-teacher",
        "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "dataset": str(data.path),
        "dataset_name": data.meta.name,
        "dataset_fingerprint": data.fingerprint,
        "topk": cfg.grounding.topk,
        "model": {"base_model": cfg.base_model},
        "prompt": cfg.prompt.model_dump(),
        "decoding": cfg.inference.model_dump(
            include={"decoding", "num_beams", "max_new_tokens", "stop", "seed", "dtype"}
        ),
        "engine": cfg.inference.model_dump(
            include={
                "batch_size",
                "concurrency",
                "num_gpus",
                "tensor_parallel_size",
                "enable_prefix_caching",
                "block_size",
                "max_model_len",
                "gpu_memory_utilization",
            }
        ),
        "grounding": cfg.grounding.model_dump(),
        "sample": cfg.sample.model_dump(),
        "rows": {s: int((selected["split"] == s).sum()) for s in selected["split"].unique()},
        "throughput": throughput(stats),
        "total_seconds": round(total_seconds, 3),
        "peak_rss_mb": {
            "driver": round(driver_rss, 1),
            "generator": round(stats["worker_rss"], 1),
            "grounder": round(stats["grounder_rss"], 1),
        },
        "examples": [
            {
                "example_id": int(r.example_id),
                "generation": r.generation,
                "top3": [int(i) for i in r.items[:3]],
            }
            for r in examples.itertuples(index=False)
        ],
    }


def teacher_metrics(data: Any, selected: pd.DataFrame, rankings: pd.DataFrame) -> dict:
    """HR/NDCG@1/5/10/20 of the grounded rankings on val and test (those that were ranked)."""
    from distillrec.teacher.evaluation import evaluate_rankings

    metrics = {}
    for split in ("val", "test"):
        if split in set(selected["split"]):
            result = evaluate_rankings(rankings, data.split(split))
            if result is not None:
                metrics[split] = result
    return metrics


def log_to_mlflow(cfg: TeacherConfig, manifest: dict[str, Any], out: Path) -> str:
    """One MLflow run per inference: parameters, throughput and teacher quality metrics."""
    import mlflow

    from distillrec.runtime import setup_mlflow

    setup_mlflow(cfg.mlflow_tracking_uri, cfg.mlflow_experiment)
    with mlflow.start_run(run_name=f"teacher-infer-{manifest['dataset_name']}") as run:
        mlflow.log_params(
            {
                "stage": "infer",
                "base_model": cfg.base_model,
                "dataset": manifest["dataset_name"],
                "decoding": cfg.inference.decoding,
                "max_new_tokens": cfg.inference.max_new_tokens,
                "topk": cfg.grounding.topk,
                "embedder": cfg.grounding.embedder,
                "pooling": cfg.grounding.pooling,
                "popularity_gamma": cfg.grounding.popularity_gamma,
                "artifact": str(out),
                "dataset_fingerprint": manifest["dataset_fingerprint"],
            }
        )
        flat = {k: v for k, v in manifest["throughput"].items() if isinstance(v, int | float)}
        for split, values in manifest.get("metrics", {}).items():
            flat.update({metric_key(k, split): v for k, v in values.items()})
        mlflow.log_metrics(flat)
        return run.info.run_id

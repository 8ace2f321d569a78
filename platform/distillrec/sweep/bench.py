"""Benchmark: wall time of the same set of sweep trials with 1 vs 2 concurrent trials.

Both runs use the same config, the same trial set (seeded search, no early stopping) and their
own throw-away MLflow store and Tune folder; only ``max_concurrent_trials`` (and optionally the
CPUs of a lone trial) differ.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from distillrec.config import validate
from distillrec.sweep.config import SweepConfig
from distillrec.sweep.tuner import run_sweep


def bench_variant(
    cfg: SweepConfig, *, concurrent: int, cpus_per_trial: float, workdir: Path
) -> SweepConfig:
    """``cfg`` run ``concurrent`` trials at a time, everything written under ``workdir``."""
    data = cfg.model_dump()
    data.update(
        name=f"bench-c{concurrent}",
        max_concurrent_trials=concurrent,
        scheduler={"type": "none"},
        register_champion=False,
        storage_path=str(workdir / "ray_results"),
        report_dir=str(workdir / "reports"),
        verbose=0,
    )
    data["resources"]["cpus_per_trial"] = cpus_per_trial
    data["mlflow"]["tracking_uri"] = f"sqlite:///{workdir / 'mlflow.db'}"
    return validate(SweepConfig, data, f"bench (concurrency {concurrent})")


def time_sweep(cfg: SweepConfig) -> tuple[float, int]:
    """Seconds for the whole sweep (all datasets) and the number of trials it ran."""
    started = time.perf_counter()
    results = run_sweep(cfg)
    return time.perf_counter() - started, sum(r.num_trials for r in results)


def bench_concurrency(cfg: SweepConfig, *, alone_cpus: float = 1.0) -> dict[str, float]:
    """Run 2-concurrent first (cold caches count against it), then 1 at a time."""
    out: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="distillrec-bench-sweep-") as tmp:
        for concurrent, cpus in ((2, cfg.resources.cpus_per_trial), (1, alone_cpus)):
            workdir = Path(tmp) / f"c{concurrent}"
            seconds, trials = time_sweep(
                bench_variant(cfg, concurrent=concurrent, cpus_per_trial=cpus, workdir=workdir)
            )
            out[f"seconds_{concurrent}_concurrent"] = seconds
            out[f"trials_{concurrent}_concurrent"] = trials
    out["speedup"] = out["seconds_1_concurrent"] / out["seconds_2_concurrent"]
    return out

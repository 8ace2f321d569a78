"""Teacher inference: Ray Data reads examples, builds prompts, vLLM actors generate, we ground.

Pipeline (streaming, so memory depends on the model and batch size, not on the data size):

    read_parquet(splits) -> keep selected, unfinished ids -> prompts -> VLLMGenerator actors
    -> Grounder actor (embed text, L2 to item titles, top-K) -> one parquet part per block

Parts are keyed by ``example_id`` (see :mod:`distillrec.teacher.parts`), so an interrupted run
started again skips finished blocks. When every selected example is done the parts become the
teacher artifact (Contract 2) via :func:`~distillrec.teacher.artifact.write_artifact`.
"""

from __future__ import annotations

import collections
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from distillrec.atomic import check_output_dir
from distillrec.runtime import tracking_uri
from distillrec.teacher.artifact import (
    ARTIFACT_KIND,
    MANIFEST_FILE,
    TeacherArtifact,
    write_artifact,
)
from distillrec.teacher.config import SampleConfig, TeacherConfig
from distillrec.teacher.evaluation import format_metrics, sample_rows
from distillrec.teacher.manifest import build_manifest, log_to_mlflow, teacher_metrics
from distillrec.teacher.parts import PartStore

LOW_CPU = 0.25  # Ray CPUs for the light read/prompt tasks, so they never starve the engines

# ``on_progress(done, total)``: examples finished so far (earlier runs included) out of all selected
ProgressFn = Callable[[int, int], None]


@dataclass
class InferenceRun:
    """What one call did: the artifact (None if stopped early) and its manifest."""

    out_dir: Path | None
    manifest: dict[str, Any] = field(default_factory=dict)
    new_rows: int = 0


def select_examples(
    data: Any, sample: SampleConfig, splits: list[str], limit: int | None = None
) -> pd.DataFrame:
    """The examples the teacher sees: ``example_id, history, next_item, split``, in run order.

    Train keeps ``train_fraction`` then at most ``train_limit``; val/test at most ``eval_limit``;
    ``limit`` caps every split. Each split is taken in one seeded permutation, so a smaller
    budget selects a prefix of a larger one (finished parts stay useful) and a resumed run selects
    the same ids. Test and val come first: a run cut short still measures the teacher.
    """
    frames = []
    for split in sorted(splits, key=lambda s: ("test", "val", "train").index(s)):
        df = data.split(split)[["example_id", "history", "next_item"]]
        take = len(df)
        if split == "train":
            take = math.ceil(take * sample.train_fraction)
            take = min(take, sample.train_limit or take)
        else:
            take = min(take, sample.eval_limit or take)
        take = min(take, limit or take)
        frames.append(sample_rows(df, take, sample.seed).assign(split=split))
    return pd.concat(frames).reset_index(drop=True)


def run_identity(cfg: TeacherConfig, model_path: str, fingerprint: str) -> dict[str, Any]:
    """Settings that must not change between an interrupted run and its resumption."""
    decoding = cfg.inference.model_dump(
        include={"decoding", "num_beams", "max_new_tokens", "stop", "seed"}
    )
    # settings added later join the identity only where they change the output, so runs made
    # before they existed still resume
    prompt = cfg.prompt.model_dump()
    if prompt["title_style"] == "dataset":
        del prompt["title_style"]
    grounding = cfg.grounding.model_dump(exclude={"batch_size", "num_cpus", "num_gpus"})
    if grounding["beam_merge"] == "top":
        del grounding["beam_merge"]
    return {
        "dataset_fingerprint": fingerprint,
        "base_model": cfg.base_model,
        "model_path": model_path,
        "prompt": prompt,
        "decoding": decoding,
        "grounding": grounding,
    }


def build_dataset(cfg: TeacherConfig, data: Any, todo: pd.DataFrame, model: str):
    """The lazy Ray Dataset: examples -> prompts -> vLLM generation (``concurrency`` actors).

    The selected, unfinished examples (``example_id``, ``history``) enter Ray Data from the
    driver's prepared-dataset frames: a file-listing read task would claim a whole CPU that a
    2-core machine cannot spare beside the engines.
    """
    import ray

    from distillrec.teacher.generation import VLLMGenerator
    from distillrec.teacher.prompts import PromptBuilder, item_titles

    builder = PromptBuilder(cfg.prompt, item_titles(data, cfg.prompt))

    def to_prompts(batch: pd.DataFrame) -> pd.DataFrame:
        prompts = builder.prompts(batch["history"].tolist())
        return pd.DataFrame({"example_id": batch["example_id"].to_numpy(), "prompt": prompts})

    size = cfg.inference.batch_size
    frame = todo[["example_id", "history"]].reset_index(drop=True)
    ds = ray.data.from_pandas([frame.iloc[i : i + size] for i in range(0, len(frame), size)])
    ds = ds.map_batches(to_prompts, batch_format="pandas", num_cpus=LOW_CPU)
    inf = cfg.inference
    return ds.map_batches(
        VLLMGenerator,
        fn_constructor_kwargs={"model_path": model, "inference": inf},
        batch_size=inf.batch_size,
        batch_format="numpy",
        # one block per engine at a time: the engine that starts first must not queue the
        # blocks a replica still loading would take (prompts are tiny, nothing to prefetch)
        compute=ray.data.ActorPoolStrategy(size=inf.concurrency, max_tasks_in_flight_per_actor=1),
        num_cpus=inf.num_cpus,
        num_gpus=inf.num_gpus,
        runtime_env={"env_vars": dict(inf.env)} if inf.env else None,
    )


def start_grounder(cfg: TeacherConfig, data: Any, model: str, items: np.ndarray | None):
    """One Grounder actor (embeds titles unless ``items`` is given from a previous run)."""
    import ray

    from distillrec.teacher.grounding import Grounder, item_popularity
    from distillrec.teacher.prompts import item_titles

    popularity = item_popularity(data.train["next_item"].to_numpy(), data.meta.num_items)
    if cfg.grounding.embedder_model:
        from distillrec.teacher.base_models import resolve_base_model

        model = resolve_base_model(cfg.grounding.embedder_model)
    env = dict(cfg.inference.env)
    actor_cls = ray.remote(Grounder).options(
        num_cpus=cfg.grounding.num_cpus,
        num_gpus=cfg.grounding.num_gpus,
        runtime_env={"env_vars": env} if env else None,
    )
    return actor_cls.remote(
        model,
        item_titles(data, cfg.prompt),
        cfg.grounding,
        cfg.inference,
        popularity,
        items,
    )


def empty_stats() -> dict[str, Any]:
    """The generation counters :func:`stream_blocks` adds up (zero when nothing is left to do).

    ``generate_seconds`` sums every block's engine time (per-engine busy time); the first block's
    start and the last block's end give the span in which the replicas generated."""
    return {
        "rows": 0,
        "blocks": 0,
        "tokens": 0,
        "generate_seconds": 0.0,
        "first_started": math.inf,
        "last_finished": -math.inf,
        "worker_rss": 0.0,
    }


def add_block(stats: dict[str, Any], block: dict[str, Any]) -> None:
    """Count one generated block (rows, tokens, engine time, wall-clock bounds, peak RSS)."""
    stats["rows"] += len(block["example_id"])
    stats["blocks"] += 1
    stats["tokens"] += int(np.sum(block["num_generated_tokens"]))
    stats["generate_seconds"] += float(np.sum(block["generate_seconds"]))
    stats["first_started"] = min(stats["first_started"], float(np.min(block["generate_started"])))
    stats["last_finished"] = max(stats["last_finished"], float(np.max(block["generate_finished"])))
    stats["worker_rss"] = max(stats["worker_rss"], float(np.max(block["worker_peak_rss_mb"])))


def stream_blocks(
    ds: Any,
    grounder: Any,
    store: PartStore,
    stop_after: int | None,
    on_block: Callable[[int], None] | None = None,
) -> dict:
    """Generate, store each generated block at once, ground (up to two blocks in flight) and
    write the grounded parts; returns counters.

    ``on_block(rows)`` is called after each grounded block is written."""
    import ray

    stats = empty_stats()
    pending: collections.deque = collections.deque()

    def finish_one() -> None:
        grounded = ray.get(pending.popleft())
        store.write(grounded)
        add_block(stats, grounded)
        if on_block is not None:
            on_block(len(grounded["example_id"]))

    for batch in ds.iter_batches(batch_size=None, batch_format="numpy"):
        if not len(batch["example_id"]):
            continue
        store.write_generations(batch)  # a kill from here on loses no generation
        pending.append(grounder.ground.remote(batch))
        if len(pending) >= 2:
            finish_one()
        if stop_after is not None and stats["blocks"] >= stop_after:
            pending.clear()
            break
    while pending:
        finish_one()
    return stats


def reground_stored(
    store: PartStore,
    grounder: Any,
    ids: set[int],
    batch_size: int,
    on_block: Callable[[int], None] | None = None,
) -> int:
    """Ground generations an interrupted run stored but did not ground; never regenerates.

    Returns the number of rows grounded; ``on_block(rows)`` is called after each written block."""
    import ray

    frame = store.read_generations(ids)
    for start in range(0, len(frame), batch_size):
        block = frame.iloc[start : start + batch_size]
        batch = {name: block[name].to_numpy() for name in block.columns}
        store.write(ray.get(grounder.ground.remote(batch)))
        if on_block is not None:
            on_block(len(block))
    return len(frame)


def run_inference(
    cfg: TeacherConfig,
    *,
    out_dir: str | Path | None = None,
    splits: list[str] | None = None,
    limit: int | None = None,
    fresh: bool = False,
    stop_after_blocks: int | None = None,
    log_mlflow: bool = True,
    on_progress: ProgressFn | None = None,
) -> InferenceRun:
    """Run (or resume) teacher inference and write the artifact; see the module docstring.

    ``stop_after_blocks`` stops after that many blocks without writing the artifact: what an
    interruption leaves behind (used by tests and for budgeted runs). ``on_progress(done, total)``
    is called once before generation starts and after every written block.
    """
    import ray

    from distillrec.data import load_prepared
    from distillrec.runtime import ensure_ray
    from distillrec.teacher.base_models import resolve_base_model

    started = time.perf_counter()
    data = load_prepared(cfg.dataset)
    splits = list(splits or cfg.sample.splits)
    model = resolve_base_model(cfg.base_model)
    out = Path(out_dir or cfg.output_dir)
    check_output_dir(out, ARTIFACT_KIND, signature=MANIFEST_FILE)  # before any generation
    store = PartStore(
        out.with_name(f".{out.name}.parts"), run_identity(cfg, model, data.fingerprint)
    )
    store.open(fresh=fresh)
    selected = select_examples(data, cfg.sample, splits, limit)
    done = store.done_ids()
    unfinished = selected[~selected["example_id"].isin(done)]
    stored = set(unfinished["example_id"]) & store.generated_ids()  # generated, not grounded
    todo = unfinished[~unfinished["example_id"].isin(stored)]
    print(
        f"teacher: {len(selected)} examples selected, {len(selected) - len(unfinished)} already "
        f"done, {len(stored)} generated earlier (grounded now, not regenerated)"
    )
    done_rows = len(selected) - len(unfinished)  # regrounded and generated rows count as they land

    def on_block(rows: int) -> None:
        nonlocal done_rows
        done_rows += rows
        if on_progress is not None:
            on_progress(done_rows, len(selected))

    items = store.load_item_embeddings()
    stats = {**empty_stats(), "wall_seconds": 0.0, "grounder_rss": 0.0, "regrounded_rows": 0}
    if len(unfinished) or items is None:
        ensure_ray()
        grounder = start_grounder(cfg, data, model, items)
        if items is None:
            items = ray.get(grounder.item_embeddings.remote())
            store.save_item_embeddings(items)
        gen_start = time.perf_counter()
        if on_progress is not None:
            on_progress(done_rows, len(selected))
        if stored:
            size = cfg.inference.batch_size
            stats["regrounded_rows"] = reground_stored(store, grounder, stored, size, on_block)
        if len(todo):
            ds = build_dataset(cfg, data, todo, model)
            stats.update(stream_blocks(ds, grounder, store, stop_after_blocks, on_block))
        stats["wall_seconds"] = time.perf_counter() - gen_start
        stats["grounder_rss"] = ray.get(grounder.peak_rss_mb.remote())
        ray.get(grounder.close.remote())
        ray.kill(grounder)
    if stop_after_blocks is not None and not set(unfinished["example_id"]) <= store.done_ids():
        return InferenceRun(out_dir=None, new_rows=stats["rows"])
    return finish(cfg, data, selected, store, items, stats, out, started, log_mlflow, model)


def finish(
    cfg: TeacherConfig,
    data: Any,
    selected: pd.DataFrame,
    store: Any,
    items: np.ndarray,
    stats: dict[str, Any],
    out: Path,
    started: float,
    log_mlflow: bool = True,
    model_path: str | None = None,
):
    """Assemble the artifact from the parts, evaluate, log, write atomically, drop the parts.

    ``model_path`` (the resolved model) is hashed into the manifest's provenance."""
    parts = store.read()
    parts = parts[parts["example_id"].isin(selected["example_id"])]
    parts = parts.drop_duplicates("example_id").sort_values("example_id").reset_index(drop=True)
    rankings = parts[["example_id", "items", "distances"]]
    seconds = time.perf_counter() - started
    manifest = build_manifest(cfg, data, selected, parts, stats, seconds, model_path)
    manifest["metrics"] = teacher_metrics(data, selected, rankings)
    for split, values in manifest["metrics"].items():
        print("teacher " + format_metrics(split, values))
    if log_mlflow:
        manifest["mlflow_run_id"] = log_to_mlflow(cfg, manifest, out)
        manifest["mlflow_tracking_uri"] = tracking_uri(cfg.mlflow_tracking_uri)
    write_artifact(
        out, TeacherArtifact(rankings=rankings, item_embeddings=items, manifest=manifest)
    )
    store.remove()
    print(f"teacher artifact: {out} ({len(rankings)} rankings)")
    return InferenceRun(out_dir=out, manifest=manifest, new_rows=stats["rows"])

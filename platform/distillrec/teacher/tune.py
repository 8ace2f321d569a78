"""The teacher quality grid (`distillrec teacher tune`): BIGRec's own knobs, measured.

Generation is the expensive step (prefill-bound on CPU), so each (entry, decoding) is generated
once on the fixed val sample through the same Ray Data + vLLM pipeline as ``teacher infer`` and
stored under ``<out_dir>/<name>/`` (a rerun reuses it while its identity, i.e. model, prompt,
decoding, dtype, dataset and rows, is unchanged). Every grounding choice (embedder x popularity
gamma) then re-ranks the stored text with the pipeline's own :func:`grounding.ground`, so the
grid measures exactly what an artifact would contain. Each point is an MLflow child run; the best
point on val is then generated, grounded and scored once on the test sample, beside popularity
and random on the same rows.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from distillrec.atomic import atomic_file, write_json_atomic
from distillrec.contracts import metric_key
from distillrec.teacher.config import BeamMerge, TeacherConfig
from distillrec.teacher.evaluation import CUTOFFS, hit_ranks, ranking_metrics
from distillrec.teacher.prompts import item_titles
from distillrec.teacher.tune_config import Embedder, SampleSpec, TeacherTuneConfig

# ``progress(label, done, total)``: examples generated so far for one (entry, decoding, split)
Progress = Callable[[str, int, int], None]


@dataclass
class Generations:
    """One (entry, decoding) generated on one split's sample, with what it cost."""

    entry: str
    decoding: str
    split: str
    frame: pd.DataFrame  # example_id, generation, num_generated_tokens, beams (sample order)
    cost: dict[str, float]


@dataclass
class Point:
    """One grid point: a generation set grounded one way, with its val metrics."""

    entry: str
    decoding: str
    embedder: Embedder
    gamma: float
    metrics: dict[str, float]
    cost: dict[str, float]
    knobs: dict[str, Any] = field(default_factory=dict)
    merge: BeamMerge = "top"  # how the beams' rankings merge (greedy: "top", its only output)

    @property
    def name(self) -> str:
        decoding = self.decoding if self.decoding == "greedy" else f"{self.decoding}-{self.merge}"
        return f"{self.entry}/{decoding}/{self.embedder}/gamma={self.gamma:g}"

    def params(self) -> dict[str, Any]:
        return {
            "entry": self.entry,
            "decoding": self.decoding,
            "beam_merge": self.merge,
            "embedder": self.embedder,
            "popularity_gamma": self.gamma,
            **{f"knob.{k}": v for k, v in self.knobs.items()},
        }


def sample_rows(data: Any, split: str, spec: SampleSpec) -> pd.DataFrame:
    """The split's first ``spec.size`` examples of ``teacher infer``'s seeded permutation
    (:func:`~distillrec.teacher.evaluation.sample_rows`, the rule ``select_examples`` uses)."""
    from distillrec.teacher.evaluation import sample_rows as seeded_rows

    frame = data.split(split)[["example_id", "history", "next_item"]]
    return seeded_rows(frame, spec.size, spec.seed).reset_index(drop=True)


def generation_identity(cfg: TeacherConfig, model_path: str, fingerprint: str, ids: Any) -> dict:
    """What makes stored generations reusable: model, prompt, decoding, dtype, data and rows."""
    from distillrec.teacher.engine import resolve_dtype
    from distillrec.teacher.inference import run_identity

    identity = run_identity(cfg, model_path, fingerprint)
    identity.pop("grounding")
    identity["dtype"] = resolve_dtype(cfg.inference.dtype)
    identity["rows_sha256"] = hashlib.sha256(np.asarray(ids, dtype=np.int64).tobytes()).hexdigest()
    return identity


def generate(
    cfg: TeacherConfig,
    data: Any,
    rows: pd.DataFrame,
    path: Path,
    label: str,
    progress: Progress | None = None,
) -> tuple[pd.DataFrame, dict[str, float]]:
    """Generate ``rows`` with ``cfg``'s model and decoding (stored at ``path``; reused when the
    identity matches). Returns the frame and its cost: wall seconds (engine start included),
    the generation span, prompts/s over that span and generated tokens per prompt."""
    from distillrec.runtime import ensure_ray
    from distillrec.teacher.base_models import resolve_base_model
    from distillrec.teacher.inference import add_block, build_dataset, empty_stats

    model = resolve_base_model(cfg.base_model)
    identity = generation_identity(cfg, model, data.fingerprint, rows["example_id"])
    meta_path = path.with_suffix(".json")
    if path.is_file() and meta_path.is_file():
        meta = json.loads(meta_path.read_text())
        frame = pd.read_parquet(path)
        # beam sets stored before every beam was kept lack them: generate those again
        complete = cfg.inference.decoding != "beam" or "beams" in frame.columns
        if meta.get("identity") == identity and complete:
            return frame, meta["cost"]
    ensure_ray()
    started = time.perf_counter()
    stats, frames = empty_stats(), []
    if progress is not None:
        progress(label, 0, len(rows))
    for batch in build_dataset(cfg, data, rows, model).iter_batches(
        batch_size=None, batch_format="numpy"
    ):
        if not len(batch["example_id"]):
            continue
        add_block(stats, batch)
        frames.append(
            pd.DataFrame(
                {
                    "example_id": batch["example_id"],
                    "generation": [str(t) for t in batch["generation"]],
                    "num_generated_tokens": batch["num_generated_tokens"],
                    "beams": [str(t) for t in batch["beams"]],
                }
            )
        )
        if progress is not None:
            progress(label, stats["rows"], len(rows))
    frame = pd.concat(frames).set_index("example_id").loc[rows["example_id"]].reset_index()
    span = max(stats["last_finished"] - stats["first_started"], 1e-9)
    cost = {
        "rows": float(stats["rows"]),
        "wall_seconds": time.perf_counter() - started,
        "generate_span_seconds": span,
        "prompts_per_s": stats["rows"] / span,
        "tokens_per_prompt": stats["tokens"] / max(stats["rows"], 1),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_file(path, "wb") as handle:
        frame.to_parquet(handle, index=False)
    write_json_atomic(meta_path, {"identity": identity, "cost": cost})
    return frame, cost


def embedder_setup(
    tune: TeacherTuneConfig, cfg: TeacherConfig, embedder: Embedder
) -> tuple[tuple, TeacherConfig, str]:
    """``(group key, grounding config, model path)`` of one embedder for one entry's config.

    Entries whose embedders share a key share one embedding engine (and the item embeddings,
    so the key holds how titles are written)."""
    from distillrec.teacher.base_models import resolve_base_model
    from distillrec.teacher.engine import resolve_dtype

    grounding = cfg.grounding.model_copy(update={"embedder_model": None})
    if embedder == "sentence":
        grounding = grounding.model_copy(update={"embedder": "sentence"})
        key: tuple = ("sentence", grounding.sentence_model, cfg.prompt.title_style)
        model = resolve_base_model(cfg.base_model)
    else:
        grounding = grounding.model_copy(update={"embedder": "llm"})
        source = cfg.base_model if embedder == "self" else tune_base_model(tune)
        model = resolve_base_model(source)
        dtype = resolve_dtype(cfg.inference.dtype)
        key = ("llm", model, grounding.pooling, dtype, cfg.prompt.title_style)
    return key, cfg.model_copy(update={"grounding": grounding}), model


def tune_base_model(tune: TeacherTuneConfig) -> str:
    """The model of the ``base`` embedder: the grid's ``base_embedder_model`` or the teacher
    YAML's ``base_model``."""
    from distillrec.config import load_config

    return tune.base_embedder_model or load_config(TeacherConfig, tune.teacher).base_model


def embed(
    cfg: TeacherConfig, model: str, data: Any, texts: dict[str, list[str]]
) -> tuple[np.ndarray, dict[str, np.ndarray], float]:
    """Item-title embeddings and each text list's embeddings from one Grounder actor (the
    pipeline's own embedder and cleaning); returns the seconds it took."""
    import ray

    from distillrec.runtime import ensure_ray
    from distillrec.teacher.inference import start_grounder

    ensure_ray()
    started = time.perf_counter()
    grounder = start_grounder(cfg, data, model, None)
    try:
        items = ray.get(grounder.item_embeddings.remote())
        out = {
            key: ray.get(grounder.embed_generations.remote(values))[1]
            for key, values in texts.items()
        }
        ray.get(grounder.close.remote())
    finally:
        ray.kill(grounder)
    return items, out, time.perf_counter() - started


def score(
    queries: np.ndarray,
    items: np.ndarray,
    targets: np.ndarray,
    popularity: np.ndarray,
    gamma: float,
    beam_logprobs: np.ndarray | None = None,
    merge: BeamMerge = "top",
) -> dict[str, float]:
    """HR/NDCG@1..20 of the grounded top-K (the artifact's own ranking rule); ``[n, B, d]``
    queries are beams merged by ``merge``."""
    from distillrec.teacher.grounding import ground

    ranked, _ = ground(queries, items, max(CUTOFFS), popularity, gamma, beam_logprobs, merge)
    return ranking_metrics(hit_ranks(ranked, targets))


def beam_texts(frame: pd.DataFrame) -> tuple[list[str], np.ndarray]:
    """A beam-decoded frame's beams, flattened for embedding, with their ``[n, B]``
    log-probabilities (B: the widest example's beam count)."""
    from distillrec.teacher.generation import decode_beams

    texts, logprobs = decode_beams(frame["beams"].tolist(), None, frame["generation"].tolist())
    return [t for row in texts for t in row], logprobs


def merges_of(tune: TeacherTuneConfig, decoding: str) -> list[BeamMerge]:
    """Greedy has one output (``top``); beam decoding is scored with every configured merge."""
    return list(tune.beam_merges) if decoding == "beam" else ["top"]


def score_frame(
    beam_logprobs: np.ndarray | None,
    queries: dict[str, np.ndarray],
    key: str,
    items: np.ndarray,
    targets: np.ndarray,
    popularity: np.ndarray,
    gamma: float,
    merge: BeamMerge,
) -> dict[str, float]:
    """Score one stored generation set: the best text's queries (``key``), or with a merge
    other than ``top`` every beam's (``key/beams``, shaped by ``beam_logprobs`` ``[n, B]``)."""
    if merge == "top":
        return score(queries[key], items, targets, popularity, gamma)
    beams = queries[f"{key}/beams"].reshape(*beam_logprobs.shape, -1)
    return score(beams, items, targets, popularity, gamma, beam_logprobs, merge)


def logprobs_of(frame: pd.DataFrame, decoding: str) -> np.ndarray | None:
    """The ``[n, B]`` beam log-probabilities of a beam-decoded set (None for greedy), decoded
    once per set rather than once per scored point."""
    return beam_texts(frame)[1] if decoding == "beam" else None


def texts_to_embed(frame: pd.DataFrame, key: str, decoding: str) -> dict[str, list[str]]:
    """The texts one generation set needs embedded: its best texts, and every beam's when it
    was beam-decoded."""
    texts = {key: frame["generation"].tolist()}
    if decoding == "beam":
        texts[f"{key}/beams"] = beam_texts(frame)[0]
    return texts


@dataclass
class GridResult:
    """Every val point, the chosen one, its test metrics and the floors on the same rows."""

    points: list[Point]
    best: Point
    test: dict[str, float]
    test_cost: dict[str, float]
    floors: dict[str, dict[str, float]]  # split -> popularity/random hr@20, ndcg@20
    samples: dict[str, dict[str, Any]]  # split -> size, seed, rows
    best_config: TeacherConfig
    title_token_budget: int
    mlflow_run_id: str | None = None


def grid_points(
    tune: TeacherTuneConfig,
    data: Any,
    rows: pd.DataFrame,
    popularity: np.ndarray,
    store: Path,
    progress: Progress | None,
) -> list[Point]:
    """Generate every (entry, decoding) on ``rows`` and score every embedder x gamma."""
    generated: dict[tuple[str, str], tuple[pd.DataFrame, dict, TeacherConfig]] = {}
    for entry in tune.entries:
        for decoding in tune.decodings_of(entry):
            cfg = tune.teacher_config(entry, decoding)
            path = store / f"{entry}-{decoding}-val.parquet"
            frame, cost = generate(cfg, data, rows, path, f"{entry}/{decoding} val", progress)
            generated[(entry, decoding)] = (frame, cost, cfg)
    groups: dict[tuple, tuple[TeacherConfig, str, dict[str, list[str]]]] = {}
    wanted: list[tuple[str, str, Embedder, tuple]] = []
    for (entry, decoding), (frame, _, cfg) in generated.items():
        for embedder in tune.embedders:
            key, embed_cfg, model = embedder_setup(tune, cfg, embedder)
            group = groups.setdefault(key, (embed_cfg, model, {}))
            group[2].update(texts_to_embed(frame, f"{entry}/{decoding}", decoding))
            wanted.append((entry, decoding, embedder, key))
    embedded: dict[tuple, tuple[np.ndarray, dict[str, np.ndarray], float]] = {}
    for key, (embed_cfg, model, texts) in groups.items():
        print(f"teacher tune: embedding {sum(map(len, texts.values()))} texts with {key[:2]}")
        embedded[key] = embed(embed_cfg, model, data, texts)
    targets = rows["next_item"].to_numpy()
    points = []
    for entry, decoding, embedder, key in wanted:
        items, queries, seconds = embedded[key]
        frame, gen_cost, _ = generated[(entry, decoding)]
        cost = {**gen_cost, "embed_seconds": seconds}
        knobs = tune.entries[entry].knobs
        logprobs = logprobs_of(frame, decoding)
        for merge in merges_of(tune, decoding):
            for gamma in tune.gammas:
                metrics = score_frame(
                    logprobs,
                    queries,
                    f"{entry}/{decoding}",
                    items,
                    targets,
                    popularity,
                    gamma,
                    merge,
                )
                points.append(Point(entry, decoding, embedder, gamma, metrics, cost, knobs, merge))
    return points


def choose(points: list[Point], metric: str) -> Point:
    """The best point on val ``metric``; a tie goes to the cheaper generation, then the smaller
    gamma (the simpler ranking)."""
    return max(
        points, key=lambda p: (p.metrics[metric], -p.cost["generate_span_seconds"], -p.gamma)
    )


def chosen_config(tune: TeacherTuneConfig, best: Point) -> TeacherConfig:
    """The teacher config of the best point: its entry and decoding, grounded its way."""
    cfg = tune.teacher_config(best.entry, best.decoding)
    grounding = cfg.grounding.model_copy(
        update={
            "embedder": "sentence" if best.embedder == "sentence" else "llm",
            "embedder_model": tune_base_model(tune) if best.embedder == "base" else None,
            "popularity_gamma": best.gamma,
            "beam_merge": best.merge,
        }
    )
    return cfg.model_copy(update={"grounding": grounding})


def title_token_budget(cfg: TeacherConfig, titles: list[str]) -> int:
    """Tokens of the longest item title plus the response suffix: the most a correct answer
    needs, so a ``max_new_tokens`` above it only pays for answers that ramble."""
    from transformers import AutoTokenizer

    from distillrec.teacher.base_models import resolve_base_model

    tokenizer = AutoTokenizer.from_pretrained(resolve_base_model(cfg.base_model))
    suffix = cfg.prompt.response_suffix
    lengths = tokenizer([f"{t}{suffix}" for t in titles], add_special_tokens=False)["input_ids"]
    return max(len(ids) for ids in lengths)


def floors(data: Any, rows: pd.DataFrame) -> dict[str, float]:
    """Popularity and random HR/NDCG@20 on exactly ``rows``."""
    from distillrec.teacher.quality import popularity_metrics, random_expectation

    num_items = data.meta.num_items
    popular = popularity_metrics(data.train["next_item"].to_numpy(), rows, num_items)
    rand = random_expectation(num_items)
    return {
        **{f"popularity {k}": v for k, v in popular.items()},
        **{f"random {k}": v for k, v in rand.items()},
    }


def score_on_test(
    tune: TeacherTuneConfig,
    best: Point,
    best_cfg: TeacherConfig,
    data: Any,
    rows: pd.DataFrame,
    popularity: np.ndarray,
    progress: Progress | None,
) -> tuple[dict[str, float], dict[str, float]]:
    """The chosen point generated, grounded and scored on the test sample: (metrics, cost)."""
    store = Path(tune.out_dir) / tune.name
    frame, cost = generate(
        best_cfg,
        data,
        rows,
        store / f"{best.entry}-{best.decoding}-test.parquet",
        f"{best.entry}/{best.decoding} test",
        progress,
    )
    _, embed_cfg, model = embedder_setup(tune, best_cfg, best.embedder)
    items, queries, _ = embed(embed_cfg, model, data, texts_to_embed(frame, "test", best.decoding))
    targets = rows["next_item"].to_numpy()
    logprobs = logprobs_of(frame, best.decoding)
    metrics = score_frame(
        logprobs, queries, "test", items, targets, popularity, best.gamma, best.merge
    )
    return metrics, cost


def check_models(tune: TeacherTuneConfig) -> None:
    """Every entry's model (and the ``base`` embedder's) resolves: one line naming the entry."""
    from distillrec.errors import UserError
    from distillrec.teacher.base_models import resolve_base_model

    for name, entry in tune.entries.items():
        try:
            resolve_base_model(entry.model)
        except UserError as err:
            raise UserError(f"entries.{name}.model: {err}") from None
    if "base" in tune.embedders:
        resolve_base_model(tune_base_model(tune))


def run_tune(
    tune: TeacherTuneConfig, progress: Progress | None = None, read_test: bool = True
) -> GridResult:
    """Run the grid, choose on val, score the choice once on test; log everything to MLflow.

    ``read_test=False`` stops after the choice: exploring grids leave test unread until the grid
    is final (``GridResult.test`` is then empty)."""
    import mlflow

    from distillrec.config import load_config
    from distillrec.data import load_prepared
    from distillrec.provenance import source_tags
    from distillrec.runtime import setup_mlflow
    from distillrec.teacher.grounding import item_popularity

    base = load_config(TeacherConfig, tune.teacher)
    check_models(tune)  # a missing fine-tune folder fails here, not after hours of generation
    data = load_prepared(base.dataset)
    popularity = item_popularity(data.train["next_item"].to_numpy(), data.meta.num_items)
    store = Path(tune.out_dir) / tune.name
    val_rows = sample_rows(data, "val", tune.val_sample)
    test_rows = sample_rows(data, "test", tune.test_sample)
    uri = setup_mlflow(tune.mlflow.tracking_uri, tune.mlflow.experiment)
    with mlflow.start_run(run_name=f"teacher-tune-{tune.name}", tags=source_tags()) as parent:
        mlflow.log_params(
            {
                "beam_merges": ",".join(tune.beam_merges),
                "teacher_config": tune.teacher,
                "dataset_fingerprint": data.fingerprint,
                "val_sample": f"{len(val_rows)} rows, seed {tune.val_sample.seed}",
                "test_sample": f"{len(test_rows)} rows, seed {tune.test_sample.seed}",
                "selection_metric": tune.selection_metric,
                "gammas": json.dumps(tune.gammas),
                "embedders": ",".join(tune.embedders),
            }
        )
        points = grid_points(tune, data, val_rows, popularity, store, progress)
        for point in points:
            with mlflow.start_run(run_name=point.name, nested=True):
                mlflow.log_params(point.params())
                mlflow.log_metrics(
                    {
                        **{metric_key(k, "val"): v for k, v in point.metrics.items()},
                        **{f"cost_{k}": v for k, v in point.cost.items()},
                    }
                )
        best = choose(points, tune.selection_metric)
        best_cfg = chosen_config(tune, best)
        print(f"teacher tune: best on val {tune.selection_metric}: {best.name}")
        test, test_cost = {}, {}
        if read_test:
            test, test_cost = score_on_test(
                tune, best, best_cfg, data, test_rows, popularity, progress
            )
        result = GridResult(
            points=points,
            best=best,
            test=test,
            test_cost=test_cost,
            floors={
                "val": floors(data, val_rows),
                "test": floors(data, test_rows) if read_test else {},
            },
            samples={
                "val": {"size": len(val_rows), "seed": tune.val_sample.seed},
                "test": {"size": len(test_rows), "seed": tune.test_sample.seed},
            },
            best_config=best_cfg,
            title_token_budget=title_token_budget(best_cfg, item_titles(data, best_cfg.prompt)),
            mlflow_run_id=parent.info.run_id,
        )
        mlflow.log_params({f"best.{k}": v for k, v in best.params().items()})
        mlflow.log_param("test_read", read_test)
        floors_test = {
            metric_key(k.replace(" ", "_"), "test"): v for k, v in result.floors["test"].items()
        }
        mlflow.log_metrics(
            {
                **{metric_key(k, "best_val"): v for k, v in best.metrics.items()},
                **{metric_key(k, "test"): v for k, v in test.items()},
                **(floors_test if read_test else {}),
            }
        )
        from distillrec.teacher.tune_report import write_report

        report = write_report(tune, result)
        mlflow.log_artifacts(str(report), artifact_path="report")
    print(f"teacher tune: report {report} (MLflow run {result.mlflow_run_id}, store {uri})")
    return result

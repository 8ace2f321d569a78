"""The teacher grid: its scoring against an independent ranking, its choice rule, its config
errors, and one real tiny grid (vLLM generation, two embedders, gammas, MLflow, report)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from distillrec.errors import UserError

ROOT = Path(__file__).resolve().parents[2]


def brute_force_metrics(queries, items, targets, popularity, gamma, cutoffs=(1, 5, 10, 20)):
    """BIGRec's adjusted L2 ranking written out per row with plain Python sorting."""
    out = {f"{m}@{k}": 0.0 for m in ("hr", "ndcg") for k in cutoffs}
    for query, target in zip(queries, targets, strict=True):
        dist = [math.dist(query, item) for item in items]
        if gamma > 0:
            low, high = min(dist), max(dist)
            scale = [(1 + p) ** -gamma for p in popularity]
            dist = [(d - low) / (high - low) * s for d, s in zip(dist, scale, strict=True)]
        order = sorted(range(len(items)), key=lambda i: dist[i])
        rank = order.index(int(target))
        for k in cutoffs:
            if rank < k:
                out[f"hr@{k}"] += 1 / len(targets)
                out[f"ndcg@{k}"] += 1 / math.log2(rank + 2) / len(targets)
    return out


@pytest.mark.parametrize("gamma", [0.0, 0.5, 4.0])
def test_score_matches_an_independent_ranking(gamma):
    from distillrec.teacher.tune import score

    rng = np.random.default_rng(3)
    items = rng.normal(size=(40, 5)).astype(np.float32)
    queries = rng.normal(size=(30, 5)).astype(np.float32)
    targets = rng.integers(0, 40, size=30)
    popularity = rng.uniform(size=40).astype(np.float32)
    ours = score(queries, items, targets, popularity, gamma)
    expected = brute_force_metrics(queries, items, targets, popularity, gamma)
    assert ours.keys() == expected.keys()
    for key, value in expected.items():
        assert ours[key] == pytest.approx(value, abs=1e-9), key
    assert ours["hr@20"] > 0  # the check can fail: some targets are ranked


def test_popularity_gamma_moves_the_ranking_towards_popularity():
    from distillrec.teacher.tune import score

    rng = np.random.default_rng(0)
    items = rng.normal(size=(50, 4)).astype(np.float32)
    queries = rng.normal(size=(200, 4)).astype(np.float32)
    popularity = np.linspace(0, 1, 50, dtype=np.float32)
    targets = np.full(200, 49)  # always the most popular item
    plain = score(queries, items, targets, popularity, 0.0)["hr@5"]
    adjusted = score(queries, items, targets, popularity, 32.0)["hr@5"]
    assert adjusted == 1.0 and plain < 0.5


def make_point(entry, value, seconds, gamma=0.0):
    from distillrec.teacher.tune import Point

    cost = {"generate_span_seconds": seconds, "prompts_per_s": 1.0}
    return Point(entry, "greedy", "self", gamma, {"ndcg@20": value}, cost)


def test_choice_is_best_on_val_then_cheaper_then_smaller_gamma():
    from distillrec.teacher.tune import choose

    points = [make_point("a", 0.10, 50), make_point("b", 0.12, 90), make_point("c", 0.12, 40)]
    assert choose(points, "ndcg@20").entry == "c"
    tied = [make_point("a", 0.12, 40, gamma=2.0), make_point("a", 0.12, 40, gamma=0.5)]
    assert choose(tied, "ndcg@20").gamma == 0.5


def grid_yaml(tmp_path: Path, **changes) -> Path:
    data = yaml.safe_load((ROOT / "configs/teacher-tune/ml-100k.yaml").read_text())
    data["teacher"] = str(ROOT / "configs/teacher/smollm2-135m.yaml")
    data.update(changes)
    path = tmp_path / "grid.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_shipped_grid_config_is_valid_and_every_key_is_commented():
    import re

    from distillrec.teacher.tune_config import load_tune_config

    path = ROOT / "configs/teacher-tune/ml-100k.yaml"
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if re.match(r"^\s*[A-Za-z_][\w.-]*:", line):
            assert "  # " in line, f"{path.name}:{number}: key without a comment"
    tune = load_tune_config(path)
    assert tune.val_sample.size == 1000 and tune.test_sample.size == 2000
    assert set(tune.embedders) == {"self", "base", "sentence"}
    h5 = tune.teacher_config("lora-n1024-e1-h5", "greedy")
    assert h5.prompt.max_history == 5 and h5.inference.decoding == "greedy"


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"model": "m", "overrides": {"grounding.popularity_gamma": 1}}, "set by the grid"),
        ({"model": "m", "overrides": {"prompt.max_histroy": 5}}, "max_history"),
        ({"model": "m", "decodings": ["sampling"]}, "sampling"),
    ],
)
def test_bad_grid_entries_fail_in_one_line(tmp_path, entry, message):
    from distillrec.teacher.tune_config import load_tune_config

    with pytest.raises(UserError) as err:
        load_tune_config(grid_yaml(tmp_path, entries={"x": entry}))
    assert message in str(err.value) and "\n" not in str(err.value)


def test_a_missing_fine_tune_folder_fails_before_any_work(tmp_path):
    from distillrec.teacher.tune import run_tune
    from distillrec.teacher.tune_config import load_tune_config

    entries = {"gone": {"model": str(tmp_path / "no-such-model")}}
    store = {"tracking_uri": f"sqlite:///{tmp_path / 'mlflow.db'}"}
    tune = load_tune_config(grid_yaml(tmp_path, entries=entries, mlflow=store))
    with pytest.raises(UserError, match=r"entries\.gone\.model: .*folder not found"):
        run_tune(tune)
    assert not (tmp_path / "mlflow.db").exists()


def test_unknown_selection_metric_is_refused(tmp_path):
    from distillrec.teacher.tune_config import load_tune_config

    with pytest.raises(UserError, match="ndcg@20"):
        load_tune_config(grid_yaml(tmp_path, selection_metric="ndcg@50"))


def test_bf16_is_chosen_only_where_the_cpu_has_bf16_units(tmp_path):
    from distillrec.teacher.engine import cpu_has_bf16

    with_amx = tmp_path / "amx"
    with_amx.write_text("processor : 0\nflags\t\t: fpu avx2 avx512f amx_bf16 amx_tile\n")
    avx2 = tmp_path / "avx2"
    avx2.write_text("processor : 0\nflags\t\t: fpu sse4_2 avx2 fma\n")
    assert cpu_has_bf16(str(with_amx)) and not cpu_has_bf16(str(avx2))
    assert not cpu_has_bf16(str(tmp_path / "missing"))


@pytest.mark.integration
@pytest.mark.vllm
def test_a_tiny_real_grid(tmp_path, ml100k, ray_session):
    """One entry, greedy and 4-beam (each beam grounded; top/nearest merges), two embedders x
    two gammas on 8 val rows; the best scored on 8 test rows; every point an MLflow child run;
    a second generate call reuses the stored text."""
    import mlflow

    from distillrec.config import load_config
    from distillrec.teacher.config import TeacherConfig
    from distillrec.teacher.tune import generate, run_tune, sample_rows
    from distillrec.teacher.tune_config import load_tune_config

    teacher = yaml.safe_load((ROOT / "configs/teacher/smollm2-135m.yaml").read_text())
    teacher["dataset"] = str(ml100k)
    teacher["inference"].update(
        {"batch_size": 4, "concurrency": 1, "dtype": "float32", "max_new_tokens": 16}
    )
    teacher["inference"]["env"]["OMP_NUM_THREADS"] = "2"
    (tmp_path / "teacher.yaml").write_text(yaml.safe_dump(teacher))
    grid = {
        "name": "tiny",
        "teacher": str(tmp_path / "teacher.yaml"),
        "val_sample": {"size": 8, "seed": 1},
        "test_sample": {"size": 8, "seed": 1},
        "entries": {"base": {"model": "smollm2-135m-instruct", "knobs": {"prompts": 0}}},
        "decodings": ["greedy", "beam"],
        "beam_merges": ["top", "nearest"],
        "embedders": ["self", "sentence"],
        "gammas": [0.0, 64.0],
        "out_dir": str(tmp_path / "store"),
        "report_dir": str(tmp_path / "reports"),
        "mlflow": {"tracking_uri": f"sqlite:///{tmp_path / 'mlflow.db'}"},
    }
    (tmp_path / "grid.yaml").write_text(yaml.safe_dump(grid))
    tune = load_tune_config(tmp_path / "grid.yaml")
    explored = run_tune(tune, read_test=False)  # exploring: test stays unread
    assert explored.test == {} and explored.test_cost == {}
    assert "Test not read" in (tmp_path / "reports" / "tiny" / "val-only" / "grid.md").read_text()
    assert explored.floors["test"] == {}
    assert not list((tmp_path / "store" / "tiny").glob("*-test.parquet"))
    result = run_tune(tune)  # reuses the stored val generations, then reads test once
    assert [p.metrics for p in result.points] == [p.metrics for p in explored.points]

    assert len(result.points) == 12  # (greedy + beam x 2 merges) x 2 embedders x 2 gammas
    assert {(p.decoding, p.merge, p.embedder, p.gamma) for p in result.points} == {
        (d, m, e, g)
        for d, m in (("greedy", "top"), ("beam", "top"), ("beam", "nearest"))
        for e in ("self", "sentence")
        for g in (0.0, 64.0)
    }
    for point in result.points:
        assert 0 <= point.metrics["hr@20"] <= 1 and point.cost["rows"] == 8
    # gamma 64 ranks (almost) by popularity: on the same rows it scores like popularity
    pop = result.floors["val"]["popularity hr@20"]
    strong = [p for p in result.points if p.gamma == 64.0]
    assert all(abs(p.metrics["hr@20"] - pop) <= 0.125 for p in strong)
    assert result.samples["test"] == {"size": 8, "seed": 1}
    assert 0 <= result.test["ndcg@20"] <= result.test["hr@20"] <= 1

    folder = tmp_path / "reports" / "tiny"
    assert {p.name for p in folder.iterdir()} == {"grid.csv", "grid.md", "best.yaml", "val-only"}
    assert "(chosen)" in (folder / "grid.md").read_text()
    assert "beam (nearest)" in (folder / "grid.md").read_text()
    best = load_config(TeacherConfig, folder / "best.yaml")
    assert best.grounding.popularity_gamma == result.best.gamma
    assert best.grounding.beam_merge == result.best.merge
    assert best.inference.decoding == result.best.decoding
    assert best.inference.max_new_tokens == result.title_token_budget

    client = mlflow.MlflowClient(grid["mlflow"]["tracking_uri"])
    children = client.search_runs(
        [client.get_run(result.mlflow_run_id).info.experiment_id],
        f"tags.mlflow.parentRunId = '{result.mlflow_run_id}'",
    )
    assert len(children) == 12
    assert all("val_ndcg_20" in run.data.metrics for run in children)

    # the stored generation is reused: same text and cost, no engine
    from distillrec.data import load_prepared

    data = load_prepared(ml100k)
    rows = sample_rows(data, "val", tune.val_sample)
    stored = tmp_path / "store" / "tiny" / "base-greedy-val.parquet"
    meta = json.loads(stored.with_suffix(".json").read_text())
    frame, cost = generate(tune.teacher_config("base", "greedy"), data, rows, stored, "again")
    assert cost == meta["cost"] and frame["example_id"].tolist() == rows["example_id"].tolist()

    # the beam set keeps every beam, best first, beside the best text it grounds by default
    from distillrec.teacher.generation import decode_beams

    beams = pd.read_parquet(tmp_path / "store" / "tiny" / "base-beam-val.parquet")
    texts, logprobs = decode_beams(beams["beams"].tolist(), 4)
    assert [row[0] for row in texts] == beams["generation"].tolist()
    assert np.isfinite(logprobs).all() and (logprobs <= 0).all()
    assert {p.name.split("/")[1] for p in result.points} == {"greedy", "beam-top", "beam-nearest"}

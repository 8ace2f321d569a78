"""`distillrec teacher evaluate` on real ml-100k rows: a seeded sample, popularity and random on the
same rows, and the metrics logged to the MLflow run named in the artifact's manifest."""

from __future__ import annotations

import json
import math
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient
from typer.testing import CliRunner

from distillrec.commands.teacher import app

K = 20


def _rank_of(example_id: int) -> int:
    """Where the planted teacher puts the target: rank ``id % 25`` (absent when >= 20)."""
    return int(example_id) % 25


def _write_teacher(data, out: Path, manifest: dict) -> Path:
    """A teacher that ranks every val/test row with the target at :func:`_rank_of`."""
    from distillrec.teacher.artifact import TeacherArtifact, write_artifact

    n = data.meta.num_items
    frames = pd.concat([data.val, data.test])
    items = []
    for example_id, target in zip(frames["example_id"], frames["next_item"], strict=True):
        row = [(int(target) + j + 1) % n for j in range(K)]
        if _rank_of(example_id) < K:
            row[_rank_of(example_id)] = int(target)
        items.append(np.array(row, dtype=np.int64))
    rankings = pd.DataFrame(
        {
            "example_id": frames["example_id"].to_numpy(),
            "items": items,
            "distances": [np.arange(K, dtype=np.float32) / 10] * len(items),
        }
    )
    emb = np.random.default_rng(0).standard_normal((n, 8)).astype(np.float32)
    manifest = {"dataset_fingerprint": data.fingerprint, **manifest}
    return write_artifact(out, TeacherArtifact(rankings, emb, manifest))


def _independent(data, rows: pd.DataFrame) -> dict[str, float]:
    """Teacher and popularity HR/NDCG@20 on ``rows`` by hand: counts of training targets, ties
    to the lower item id."""
    counts = Counter(int(i) for i in data.train["next_item"])
    top = sorted(range(data.meta.num_items), key=lambda i: (-counts.get(i, 0), i))[:K]
    pop_rank = {item: r for r, item in enumerate(top)}
    hr = ndcg = t_hr = t_ndcg = 0.0
    for example_id, target in zip(rows["example_id"], rows["next_item"], strict=True):
        if int(target) in pop_rank:
            hr += 1
            ndcg += 1 / math.log2(pop_rank[int(target)] + 2)
        if _rank_of(example_id) < K:
            t_hr += 1
            t_ndcg += 1 / math.log2(_rank_of(example_id) + 2)
    n = len(rows)
    return {"pop hr": hr / n, "pop ndcg": ndcg / n, "hr": t_hr / n, "ndcg": t_ndcg / n}


@pytest.fixture(scope="module")
def data(ml100k: Path):
    from distillrec.data import load_prepared

    return load_prepared(ml100k)


@pytest.fixture
def store(tmp_path: Path) -> tuple[str, str]:
    """An sqlite store with one finished run (as `teacher infer` leaves it)."""
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = MlflowClient(uri)
    experiment = client.create_experiment("teacher-tests")
    run = client.create_run(experiment)
    client.set_terminated(run.info.run_id)
    return uri, run.info.run_id


def _evaluate(args: list[str]):
    result = CliRunner().invoke(app, ["evaluate", *args])
    assert result.exit_code == 0, result.output
    return result.output


def test_sample_picks_the_same_rows_for_a_seed_and_popularity_matches_a_count(
    data, ml100k: Path, tmp_path: Path
):
    from distillrec.teacher.evaluation import sample_rows

    art = _write_teacher(data, tmp_path / "teacher", {})
    common = [str(art), "--dataset", str(ml100k), "--sample", "300", "--no-mlflow"]
    outputs = {}
    for name, seed in (("a", 7), ("b", 7), ("c", 8)):
        _evaluate([*common, "--seed", str(seed), "--json", str(tmp_path / f"{name}.json")])
        outputs[name] = json.loads((tmp_path / f"{name}.json").read_text())
    a, b, c = outputs["a"], outputs["b"], outputs["c"]
    assert a["sample"] == {"n": 300, "seed": 7}
    for split in ("val", "test"):
        assert a["splits"][split]["example_ids"] == b["splits"][split]["example_ids"]
        assert a["splits"][split]["example_ids"] != c["splits"][split]["example_ids"]
        rows = sample_rows(data.split(split), 300, 7)
        assert a["splits"][split]["example_ids"] == sorted(rows["example_id"].tolist())
        assert a["splits"][split]["n"] == 300
        expected = _independent(data, rows)
        got = a["splits"][split]
        assert got["popularity"]["hr@20"] == pytest.approx(expected["pop hr"])
        assert got["popularity"]["ndcg@20"] == pytest.approx(expected["pop ndcg"])
        assert got["teacher"]["hr@20"] == pytest.approx(expected["hr"])
        assert got["teacher"]["ndcg@20"] == pytest.approx(expected["ndcg"])
        assert got["random"]["hr@20"] == pytest.approx(K / data.meta.num_items)
        assert got["random"]["hr@1"] == pytest.approx(1 / data.meta.num_items)
        ndcg5 = sum(1 / math.log2(r + 2) for r in range(5)) / data.meta.num_items
        assert got["random"]["ndcg@5"] == pytest.approx(ndcg5)
        assert 0 < expected["pop hr"] < 1 and 0 < expected["hr"] < 1  # the counts are not trivial


def test_evaluate_logs_to_the_artifacts_run_in_sqlite(data, ml100k: Path, tmp_path, store):
    uri, run_id = store
    manifest = {"mlflow_run_id": run_id, "mlflow_tracking_uri": uri}
    art = _write_teacher(data, tmp_path / "teacher", manifest)
    args = [str(art), "--dataset", str(ml100k), "--json", str(tmp_path / "all.json")]
    output = _evaluate(args)
    assert f"metrics logged to run {run_id}" in output
    assert "popularity val (n=" in output and "random     test (n=" in output
    logged = MlflowClient(uri).get_run(run_id).data.metrics
    scores = json.loads((tmp_path / "all.json").read_text())["splits"]
    for split in ("val", "test"):
        assert scores[split]["n"] == len(data.split(split))
        assert logged[f"{split}_hr_20"] == pytest.approx(scores[split]["teacher"]["hr@20"])
        assert logged[f"{split}_ndcg_1"] == pytest.approx(scores[split]["teacher"]["ndcg@1"])
        popular = scores[split]["popularity"]["hr@20"]
        assert logged[f"{split}_popularity_hr_20"] == pytest.approx(popular)
        assert f"{split}_random_ndcg_20" in logged
    # a seeded sample goes under its own names (never overwrites the all-rows values)
    output = _evaluate([*args[:3], "--sample", "100", "--seed", "3"])
    run = MlflowClient(uri).get_run(run_id)
    assert run.data.metrics["val_hr_20"] == logged["val_hr_20"]
    assert {"val_sample_hr_20", "test_sample_popularity_ndcg_20"} <= set(run.data.metrics)
    assert "n=100 seed=3" in run.data.tags["distillrec.evaluate.sample"]
    assert "chosen with seed 3; the artifact ranks 100 of them" in output


def test_unreachable_or_missing_run_is_one_line_and_metrics_still_print(
    data, ml100k: Path, tmp_path: Path, store
):
    uri, _ = store
    cases = {
        "gone": ({"mlflow_run_id": "0" * 32, "mlflow_tracking_uri": uri}, "0" * 32),
        "nostore": (
            {"mlflow_run_id": "abc", "mlflow_tracking_uri": f"sqlite:///{tmp_path}/none.db"},
            "the store does not exist",
        ),
        "old": ({}, "names no MLflow run"),  # a manifest written before provenance existed
    }
    for name, (manifest, expected) in cases.items():
        art = _write_teacher(data, tmp_path / name, manifest)
        output = _evaluate([str(art), "--dataset", str(ml100k), "--sample", "50"])
        lines = [line for line in output.splitlines() if line.startswith("mlflow:")]
        assert len(lines) == 1 and "not logged" in lines[0] and expected in lines[0], output
        assert "teacher    val (n=50)" in output and "popularity test (n=50)" in output
    assert not (tmp_path / "none.db").exists()  # no empty store was created by the attempt
    output = _evaluate([str(tmp_path / "gone"), "--dataset", str(ml100k), "--no-mlflow"])
    assert "mlflow: not logged (--no-mlflow)" in output


def test_old_manifest_loads_and_reports_no_provenance(data, ml100k: Path, tmp_path: Path):
    from distillrec.teacher.quality import quality_markdown, teacher_summary

    art = _write_teacher(data, tmp_path / "old", {"model": {"base_model": "x"}})
    summary = teacher_summary(ml100k, art)
    assert summary["provenance"] == "-"
    assert "- provenance: -" in quality_markdown(summary)
    manifest = json.loads((art / "manifest.json").read_text())
    manifest["provenance"] = {
        "engine": {"name": "vllm", "version": "0.32.0"},
        "model": {"sha256": "ab" * 32},
        "finetune": {"mlflow_run_id": "lora123", "seed": 0},
        "seeds": {"sample": 1, "inference": 2, "finetune": 0},
        "libraries": {"torch": "2.13.0", "peft": None},
    }
    (art / "manifest.json").write_text(json.dumps(manifest))
    text = teacher_summary(ml100k, art)["provenance"]
    assert text.startswith("vllm 0.32.0; model sha256 abababababab; LoRA run lora123;")
    assert "seeds sample 1, inference 2, finetune 0" in text and text.endswith("torch 2.13.0")

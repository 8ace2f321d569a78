"""`distillrec teacher from-model`: a trained student becomes a standard teacher artifact."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from distillrec.cli import app


@pytest.fixture
def saved_student(ml100k: Path, tmp_path: Path) -> Path:
    from distillrec.data import load_prepared
    from distillrec.students.registry import build_student
    from distillrec.training.packaging import save_student

    meta = load_prepared(ml100k).meta
    kwargs = {"num_items": meta.num_items, "max_history": meta.max_history, "hidden_size": 8}
    torch.manual_seed(0)
    model = build_student("gru4rec", **kwargs)
    folder = tmp_path / "student"
    folder.mkdir()
    spec = {
        "student": "gru4rec",
        "model_kwargs": kwargs,
        "num_items": meta.num_items,
        "max_history": meta.max_history,
        "dataset_fingerprint": meta.fingerprint,
    }
    return save_student(folder, model, spec)


def test_from_model_writes_the_students_own_top_k(
    ml100k, saved_student, tmp_path, one_torch_thread
):
    from distillrec.data import load_prepared
    from distillrec.teacher.artifact import read_artifact
    from distillrec.training.batches import pad_histories
    from distillrec.training.packaging import load_saved_student

    out = tmp_path / "teacher"
    args = ["teacher", "from-model", str(saved_student), "--dataset", str(ml100k)]
    result = CliRunner().invoke(app, [*args, "--out", str(out), "--topk", "10", "--splits", "test"])
    assert result.exit_code == 0, result.output
    data = load_prepared(ml100k)
    art = read_artifact(out, expected_fingerprint=data.fingerprint)
    assert art.manifest["kind"] == "student-teacher" and art.manifest["topk"] == 10
    engine = art.manifest["provenance"]["engine"]  # the student runtime, not an LLM engine
    assert engine["name"] == "distillrec-student" and engine["student"] == "gru4rec"
    assert engine["runtime"] == f"torch {torch.__version__}"
    assert art.rankings["example_id"].tolist() == data.test["example_id"].tolist()
    model, _ = load_saved_student(saved_student)
    assert np.allclose(art.item_embeddings, model.item_embeddings.weight[:-1].detach().numpy())
    # an independent top-10 of the first rows: history excluded, score gaps as distances
    rows = data.test.head(5)
    history = torch.from_numpy(pad_histories(rows["history"], model.max_history, model.num_items))
    lengths = torch.tensor([min(len(h), model.max_history) for h in rows["history"]])
    with torch.no_grad():
        scores = model(history, lengths)
    for b, (hist, items, dists) in enumerate(
        zip(rows["history"], art.rankings["items"][:5], art.rankings["distances"][:5], strict=True)
    ):
        s = scores[b].clone()
        s[torch.as_tensor(np.array(hist))] = -torch.inf
        top = s.topk(10)
        assert list(items) == top.indices.tolist()
        expected = (top.values[0] - top.values).numpy()
        assert np.allclose(dists, expected, atol=1e-5) and dists[0] == 0.0


def test_from_model_refuses_bad_input_in_one_line(ml100k, tmp_path):
    runner = CliRunner()
    missing = runner.invoke(
        app, ["teacher", "from-model", str(tmp_path), "--dataset", str(ml100k), "--out", "x"]
    )
    assert missing.exit_code == 2 and "not a saved student" in missing.output
    bad_split = runner.invoke(
        app,
        ["teacher", "from-model", str(tmp_path), "--dataset", str(ml100k), "--out", "x"]
        + ["--splits", "nope"],
    )
    assert bad_split.exit_code == 2 and "unknown split" in bad_split.output
    assert not (tmp_path / "x").exists()

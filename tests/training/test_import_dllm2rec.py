"""``distillrec teacher import-dllm2rec``: the reference's files become a valid artifact."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from typer.testing import CliRunner

from distillrec.data import load_prepared
from distillrec.teacher.artifact import read_artifact


def write_reference_files(folder: Path, rows: int, num_items: int, k: int = 4) -> None:
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True, exist_ok=True)
    ranks = np.stack([rng.choice(num_items, size=k, replace=False) for _ in range(rows)])
    np.savetxt(folder / "myrank_train.txt", ranks.astype(float))  # the reference saves floats
    np.savetxt(folder / "confidence_train.txt", np.sort(rng.random((rows, k)), axis=1))
    torch.save(torch.randn(num_items, 6), folder / "all_embeddings.pt")


def test_import_maps_rows_to_train_examples_in_order(tiny_dataset, tmp_path):
    from distillrec.cli import app

    data = load_prepared(tiny_dataset)
    source = tmp_path / "tocf"
    write_reference_files(source, len(data.train), data.meta.num_items)
    out = tmp_path / "artifact"
    args = ["teacher", "import-dllm2rec", str(source), "--dataset", str(tiny_dataset)]
    result = CliRunner().invoke(app, [*args, "--out", str(out)])
    assert result.exit_code == 0, result.output
    art = read_artifact(out, expected_fingerprint=data.fingerprint)
    ranks = np.loadtxt(source / "myrank_train.txt").astype(np.int64)
    assert art.rankings["example_id"].tolist() == data.train["example_id"].tolist()
    assert list(art.rankings["items"].iloc[5]) == ranks[5].tolist()
    assert art.item_embeddings.shape == (data.meta.num_items, 6)

    write_reference_files(source, len(data.train) - 1, data.meta.num_items)
    bad = CliRunner().invoke(app, [*args, "--out", str(tmp_path / "bad")])
    assert bad.exit_code == 2 and "training examples" in bad.output
    assert not (tmp_path / "bad").exists()

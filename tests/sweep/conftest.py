"""Sweep fixtures: a small but valid teacher artifact for ml-100k, and sweep configs in tmp dirs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest


def write_synthetic_teacher(dataset_dir: Path, out_dir: Path, *, topk: int = 20, dim: int = 32):
    """A contract-valid teacher artifact: each train example's ranking holds its true next item
    among popular items (a plausible, cheap stand-in for an LLM teacher's top-K)."""
    import pandas as pd

    from distillrec.data import load_prepared
    from distillrec.teacher.artifact import TeacherArtifact, write_artifact

    data = load_prepared(dataset_dir)
    rng = np.random.default_rng(0)
    targets = data.train["next_item"].to_numpy()
    popular = data.train["next_item"].value_counts().index.to_numpy()[:topk]
    items = np.tile(popular, (len(targets), 1))  # [n, topk]
    missing = ~(items == targets[:, None]).any(axis=1)
    slots = rng.integers(0, topk, size=len(targets))
    items[missing, slots[missing]] = targets[missing]
    dists = np.sort(rng.random(items.shape), axis=1).astype(np.float32)
    rankings = pd.DataFrame(
        {
            "example_id": data.train["example_id"].to_numpy(),
            "items": list(items),
            "distances": list(dists),
        }
    )
    emb = rng.standard_normal((data.meta.num_items, dim)).astype(np.float32)
    manifest = {
        "dataset_fingerprint": data.fingerprint,
        "source": "synthetic (tests)",
        "topk": topk,
    }
    return write_artifact(out_dir, TeacherArtifact(rankings, emb, manifest))


@pytest.fixture(scope="session")
def ml100k_teacher(ml100k: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A synthetic teacher artifact made for the session's prepared ml-100k."""
    return write_synthetic_teacher(ml100k, tmp_path_factory.mktemp("teacher") / "ml-100k")

"""Study fixtures: a teacher artifact for ml-100k covering half the training rows and every
val/test row (so coverage and the teacher's own quality show in the report)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest


def write_half_covering_teacher(dataset_dir: Path, out_dir: Path, *, topk: int = 20) -> Path:
    """Even training rows: the popular items with the true next item mixed in; val/test rows:
    the popular items only (the teacher's own quality is then popularity's)."""
    import pandas as pd

    from distillrec.data import load_prepared
    from distillrec.teacher.artifact import TeacherArtifact, write_artifact

    data = load_prepared(dataset_dir)
    rng = np.random.default_rng(0)
    popular = data.train["next_item"].value_counts().index.to_numpy()[:topk]
    train = data.train.iloc[::2]
    items = np.tile(popular, (len(train), 1))
    targets = train["next_item"].to_numpy()
    missing = ~(items == targets[:, None]).any(axis=1)
    items[missing, rng.integers(0, topk, size=len(train))[missing]] = targets[missing]
    held_out = pd.concat([data.val, data.test])
    ids = np.concatenate([train["example_id"].to_numpy(), held_out["example_id"].to_numpy()])
    all_items = np.concatenate([items, np.tile(popular, (len(held_out), 1))])
    dists = np.sort(rng.random(all_items.shape) * 10, axis=1).astype(np.float32)
    rankings = pd.DataFrame({"example_id": ids, "items": list(all_items), "distances": list(dists)})
    emb = rng.standard_normal((data.meta.num_items, 16)).astype(np.float32)
    manifest = {
        "dataset_fingerprint": data.fingerprint,
        "source": "synthetic (tests)",
        "topk": topk,
    }
    return write_artifact(out_dir, TeacherArtifact(rankings, emb, manifest))


@pytest.fixture(scope="session")
def study_teacher(ml100k: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_half_covering_teacher(ml100k, tmp_path_factory.mktemp("study-teacher") / "t")

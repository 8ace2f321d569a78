"""Training fixtures: a tiny prepared dataset (Contract 1) with a learnable pattern, and a
random-but-valid teacher artifact for it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

TINY_ITEMS = 30
TINY_USERS = 40
TINY_HISTORY = 5


def write_tiny_dataset(out_dir: Path, *, seed: int = 0) -> Path:
    """Users walk the items in steps of 1 or 2 from a random start; leave-one-out splits."""
    from distillrec.data.prepared import write_prepared

    rng = np.random.default_rng(seed)
    rows = {"train": [], "val": [], "test": []}
    example_id = 0
    for user in range(TINY_USERS):
        step = 1 + user % 2
        start = int(rng.integers(0, TINY_ITEMS))
        seq = [(start + step * i) % TINY_ITEMS for i in range(12)]
        for pos in range(1, len(seq)):
            split = "test" if pos == len(seq) - 1 else "val" if pos == len(seq) - 2 else "train"
            history = seq[max(0, pos - TINY_HISTORY) : pos]
            rows[split].append(
                {
                    "example_id": example_id,
                    "user_id": user,
                    "history": history,
                    "history_len": len(history),
                    "next_item": seq[pos],
                    "timestamp": pos,
                }
            )
            example_id += 1
    splits = {name: pd.DataFrame(r) for name, r in rows.items()}
    items = pd.DataFrame(
        {
            "item_id": np.arange(TINY_ITEMS, dtype=np.int64),
            "title": [f"item {i}" for i in range(TINY_ITEMS)],
            "raw_id": [str(i) for i in range(TINY_ITEMS)],
        }
    )
    meta = {
        "name": "tiny",
        "num_users": TINY_USERS,
        "num_items": TINY_ITEMS,
        "padding_id": TINY_ITEMS,
        "max_history": TINY_HISTORY,
        "num_train": len(splits["train"]),
        "num_val": len(splits["val"]),
        "num_test": len(splits["test"]),
        "split": {"protocol": "leave_one_out"},
        "source": {"format": "synthetic"},
    }
    write_prepared(out_dir, items, splits, meta)
    return out_dir


def write_random_teacher(dataset_dir: Path, out_dir: Path, *, coverage: float = 0.7, k: int = 10):
    """A valid artifact covering a share of the training examples, with random rankings."""
    from distillrec.data import load_prepared
    from distillrec.teacher.artifact import TeacherArtifact, write_artifact

    data = load_prepared(dataset_dir)
    rng = np.random.default_rng(1)
    ids = data.train["example_id"].to_numpy()
    ids = ids[rng.random(len(ids)) < coverage]
    items = [rng.choice(data.meta.num_items, size=k, replace=False) for _ in ids]
    dists = [np.sort(rng.random(k) * 3).astype(np.float32) for _ in ids]
    rankings = pd.DataFrame({"example_id": ids, "items": items, "distances": dists})
    emb = rng.standard_normal((data.meta.num_items, 12)).astype(np.float32)
    manifest = {"dataset_fingerprint": data.fingerprint, "source": "random (tests)"}
    return write_artifact(out_dir, TeacherArtifact(rankings, emb, manifest))


@pytest.fixture(scope="session")
def tiny_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tiny_dataset(tmp_path_factory.mktemp("tiny") / "tiny")


@pytest.fixture(scope="session")
def tiny_teacher(tiny_dataset: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_random_teacher(tiny_dataset, tmp_path_factory.mktemp("teacher") / "tiny")


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread(one_torch_thread):
    """Single-threaded torch (see tests/conftest.py)."""
    yield

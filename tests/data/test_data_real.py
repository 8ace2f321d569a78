"""The real ml-100k and amazon-games-2018 from the mirror: sizes, split invariants, Ray Data.

The invariants are checked against an independent reconstruction from the raw files: every
interaction with at least one earlier item is exactly one example, and its history is exactly the
last <= max_history items before it (so a history never holds the target or anything later).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from distillrec.data import load_prepared, prepare_dataset, read_split_ray

pytestmark = pytest.mark.integration


def _check_examples(data, sequences: dict[int, list[int]]) -> None:
    """``sequences``: user_id -> full chronological item_id sequence built from the raw files.

    Examples are numbered by (user, position), so the expected rows can be listed in that order.
    """
    h = data.meta.max_history
    users, nexts, lens, flat = [], [], [], []
    for user in sorted(sequences):
        seq = sequences[user]
        for pos in range(1, len(seq)):
            history = seq[max(0, pos - h) : pos]
            users.append(user)
            nexts.append(seq[pos])
            lens.append(len(history))
            flat.extend(history)
    examples = pd.concat([data.train, data.val, data.test]).sort_values("example_id")
    assert examples["example_id"].tolist() == list(range(len(examples)))  # unique across splits
    assert len(examples) == len(nexts)  # every interaction with an earlier item, exactly once
    assert examples["user_id"].tolist() == users
    assert examples["next_item"].tolist() == nexts
    assert examples["history_len"].tolist() == lens
    assert (examples["history_len"] >= 1).all()
    assert np.array_equal(np.concatenate(examples["history"].to_numpy()), np.array(flat))
    assert data.meta.num_train + data.meta.num_val + data.meta.num_test == len(examples)


def test_ml100k_sizes_and_invariants(ml100k: Path, data_mirror: Path):
    data = load_prepared(ml100k)
    assert (data.meta.num_users, data.meta.num_items) == (943, 1682)
    assert data.meta.padding_id == 1682
    assert data.meta.split["rule"] == "global_time"
    raw = pd.read_csv(
        data_mirror / "ml-100k" / "u.data",
        sep="\t",
        header=None,
        names=["user", "item", "rating", "ts"],
    )
    raw = raw.sort_values(["user", "ts"], kind="stable")
    item_ids = dict(zip(data.items["raw_id"].astype(int), data.items["item_id"], strict=True))
    sequences = {
        int(u) - 1: [item_ids[i] for i in g["item"]] for u, g in raw.groupby("user", sort=True)
    }
    _check_examples(data, sequences)
    # global time: every train target is no later than every val target, and so on
    assert data.train["timestamp"].max() <= data.val["timestamp"].min()
    assert data.val["timestamp"].max() <= data.test["timestamp"].min()
    assert abs(len(data.train) / (len(data.train) + len(data.val) + len(data.test)) - 0.8) < 1e-3
    assert data.items.loc[0, "title"] == "Toy Story (1995)"


def test_amazon_games_sizes_and_invariants(data_mirror: Path, tmp_path: Path):
    data = load_prepared(prepare_dataset("amazon-games-2018", out_dir=tmp_path / "games"))
    assert (data.meta.num_users, data.meta.num_items) == (50546, 16859)
    assert data.meta.num_interactions == 452989
    assert not data.items["title"].str.contains("&amp;|&quot;|&#", regex=True).any()
    raw = pd.read_csv(data_mirror / "amazon-games-2018" / "sequences.tsv", sep="\t", dtype=str)
    users = sorted(raw["user_id"])
    user_id = {u: i for i, u in enumerate(users)}
    item_id = dict(zip(data.items["raw_id"], data.items["item_id"], strict=True))
    sequences = {
        user_id[u]: [item_id[i] for i in s.split()]
        for u, s in zip(raw["user_id"], raw["item_ids"], strict=True)
    }
    _check_examples(data, sequences)
    # per-user ratio without timestamps: each user's last ceil(10%) examples are test
    counts = np.array([len(sequences[u]) - 1 for u in range(len(users))])
    assert len(data.test) == sum(math.ceil(n * 0.1 - 1e-9) for n in counts)
    last_test = data.test.groupby("user_id")["timestamp"].max()
    assert (last_test.to_numpy() == counts[last_test.index.to_numpy()]).all()


def test_prepared_splits_read_as_ray_data(ml100k: Path, ray_session):
    data = load_prepared(ml100k)
    rows = read_split_ray(ml100k, "val").take_all()  # one Ray Data job reads the whole split
    assert len(rows) == data.meta.num_val
    assert set(rows[0]) == {
        "example_id",
        "user_id",
        "history",
        "history_len",
        "next_item",
        "timestamp",
    }
    assert [int(r["example_id"]) for r in rows[:5]] == data.val["example_id"][:5].tolist()
    assert all(len(r["history"]) == r["history_len"] for r in rows)


def test_stats_command_prints_the_summary(ml100k: Path):
    from typer.testing import CliRunner

    from distillrec.cli import app

    result = CliRunner().invoke(app, ["data", "stats", str(ml100k)])
    assert result.exit_code == 0, result.output
    assert "users                        943" in result.stdout
    assert "examples=9905" in result.stdout  # val

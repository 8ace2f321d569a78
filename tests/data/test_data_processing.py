"""Unit tests of the example builder and the splits, against hand-computed values."""

from __future__ import annotations

import numpy as np
import pandas as pd

from distillrec.data.config import SplitConfig
from distillrec.data.processing import clean_title, k_core, make_examples, split_examples


def _lists(frame: pd.DataFrame) -> list[list[int]]:
    return [list(map(int, h)) for h in frame["history"]]


def test_make_examples_histories_are_last_items_oldest_first_unpadded():
    users = np.array([0, 0, 0, 0, 1, 1])
    items = np.array([5, 6, 7, 8, 9, 5])
    frame = make_examples(users, items, time=None, max_history=2)
    assert _lists(frame) == [[5], [5, 6], [6, 7], [9]]
    assert frame["history_len"].tolist() == [1, 2, 2, 1]
    assert frame["next_item"].tolist() == [6, 7, 8, 5]
    assert frame["user_id"].tolist() == [0, 0, 0, 1]
    assert frame["timestamp"].tolist() == [1, 2, 3, 1]  # position in the sequence
    assert frame["example_id"].tolist() == [0, 1, 2, 3]


def test_make_examples_min_history_and_timestamps():
    users = np.array([0, 0, 0])
    items = np.array([1, 2, 3])
    frame = make_examples(users, items, np.array([10, 20, 30]), max_history=10, min_history=2)
    assert _lists(frame) == [[1, 2]]
    assert frame["timestamp"].tolist() == [30]


def test_temporal_split_is_global_time_with_exact_ratios():
    frame = pd.DataFrame(
        {"user_id": [0] * 5 + [1] * 5, "timestamp": [1, 3, 5, 7, 9, 2, 4, 6, 8, 10]}
    )
    parts = split_examples(frame, SplitConfig(), has_timestamps=True)
    assert sorted(parts["train"]["timestamp"]) == [1, 2, 3, 4, 5, 6, 7, 8]
    assert parts["val"]["timestamp"].tolist() == [9]
    assert parts["test"]["timestamp"].tolist() == [10]


def test_per_user_ratio_split_without_timestamps():
    frame = pd.DataFrame({"user_id": [0] * 10 + [1] * 3 + [2], "timestamp": list(range(14))})
    parts = split_examples(frame, SplitConfig(), has_timestamps=False)
    # user 0: 8/1/1; user 1 (3 examples): ceil keeps one val and one test; user 2: test only
    assert parts["train"]["timestamp"].tolist() == list(range(8)) + [10]
    assert parts["val"]["timestamp"].tolist() == [8, 11]
    assert parts["test"]["timestamp"].tolist() == [9, 12, 13]


def test_leave_one_out_split():
    frame = pd.DataFrame({"user_id": [0, 0, 0, 0, 1, 1], "timestamp": [1, 2, 3, 4, 1, 2]})
    parts = split_examples(frame, SplitConfig(protocol="leave_one_out"), has_timestamps=True)
    assert parts["train"].index.size == 2
    assert parts["val"]["timestamp"].tolist() == [3, 1]
    assert parts["test"]["timestamp"].tolist() == [4, 2]


def test_k_core_is_iterative():
    # item z has one user; removing it leaves u3 with one item, so u3 goes too.
    inter = pd.DataFrame(
        {
            "user": ["u1", "u1", "u2", "u2", "u3", "u3"],
            "item": ["x", "y", "x", "y", "z", "x"],
        }
    )
    kept = k_core(inter, 2)
    assert sorted(zip(kept["user"], kept["item"], strict=True)) == [
        ("u1", "x"),
        ("u1", "y"),
        ("u2", "x"),
        ("u2", "y"),
    ]


def test_clean_title():
    assert clean_title("  Tom &amp;amp; Jerry\n  2 ") == "Tom & Jerry 2"
    assert clean_title("D&eacute;j&agrave; vu") == "Déjà vu"

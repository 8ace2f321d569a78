"""Raw interactions -> next-item examples, vectorised (numpy/pandas, no per-row Python loops).

Steps: map items to their titles (unknown items are an error or dropped), optional de-duplication,
k-core filtering, per-user chronological order with stable ties (the source line breaks ties),
contiguous ids, one example per target position, and the split.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa

from distillrec.data.config import DatasetConfig, SplitConfig
from distillrec.data.sources import RawData
from distillrec.errors import UserError

_SPACES = re.compile(r"\s+")


@dataclass
class Examples:
    """Prepared tables: ``items`` and one frame per split (Contract 1 columns)."""

    items: pd.DataFrame
    splits: dict[str, pd.DataFrame]
    num_users: int
    num_interactions: int
    has_timestamps: bool = True


def clean_title(title: str) -> str:
    """HTML entities unescaped (twice: Amazon has ``&amp;amp;``), whitespace normalised."""
    return _SPACES.sub(" ", html.unescape(html.unescape(str(title)))).strip()


def _sorted_codes(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Contiguous codes ordered by raw id (numerically when every id is an integer)."""
    uniques = pd.unique(values)
    as_num = pd.to_numeric(pd.Series(uniques, dtype=object), errors="coerce")
    if len(uniques) and not as_num.isna().any():
        order = np.argsort(as_num.to_numpy(dtype=float), kind="stable")
    else:
        order = np.argsort(uniques.astype(str), kind="stable")
    uniques = uniques[order]
    codes = pd.Index(uniques).get_indexer(values)
    return codes.astype(np.int64), uniques


def attach_titles(raw: RawData) -> tuple[pd.DataFrame, pd.Series]:
    """Keep interactions whose item has a title entry; an unknown item is an error by default.

    Returns the interactions and the titles indexed by raw item id (first entry wins).
    """
    items = raw.items.drop_duplicates("raw_id", keep="first")
    inter = raw.interactions
    if len(inter) and inter["item"].dtype != items["raw_id"].dtype:
        items = items.assign(raw_id=items["raw_id"].astype(inter["item"].dtype))
    titles = items.set_index("raw_id")["title"]
    unknown = titles.index.get_indexer(inter["item"]) < 0
    if unknown.any() and raw.unknown_items == "error":
        row = int(unknown.argmax())
        raise UserError(
            f"{raw.ratings_file} line {int(inter['line'].iloc[row])}: item "
            f"{inter['item'].iloc[row]!r} is not in {raw.items_file}"
        )
    return inter.loc[~unknown].reset_index(drop=True), titles


def k_core(inter: pd.DataFrame, k: int) -> pd.DataFrame:
    """Iteratively drop users and items with fewer than ``k`` interactions."""
    if k <= 1:
        return inter
    while True:
        users, items = pd.factorize(inter["user"])[0], pd.factorize(inter["item"])[0]
        keep = (np.bincount(users)[users] >= k) & (np.bincount(items)[items] >= k)
        if keep.all():
            return inter
        inter = inter.loc[keep].reset_index(drop=True)


def drop_repeats(inter: pd.DataFrame) -> pd.DataFrame:
    """Keep each user's first interaction with an item (Amazon has repeated reviews)."""
    keys = ["timestamp", "line"] if "timestamp" in inter else ["line"]
    first = inter.sort_values(keys, kind="stable").drop_duplicates(["user", "item"], keep="first")
    return first.sort_index().reset_index(drop=True)


def order_interactions(inter: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray]:
    """Sort by (user, time, source line); add contiguous ``user_id``; return the raw user ids."""
    user_codes, user_uniques = _sorted_codes(inter["user"].to_numpy())
    time = inter["timestamp"].to_numpy() if "timestamp" in inter else np.zeros(len(inter), np.int64)
    order = np.lexsort((inter["line"].to_numpy(), time, user_codes))
    inter = inter.iloc[order].reset_index(drop=True)
    inter.insert(0, "user_id", user_codes[order])
    return inter, user_uniques


def build_examples(raw: RawData, cfg: DatasetConfig) -> Examples:
    """The whole processing chain for table/sequence sources."""
    inter, titles = attach_titles(raw)
    if cfg.dedupe:
        inter = drop_repeats(inter)
    inter = k_core(inter, cfg.k_core)
    if len(inter) == 0:
        raise UserError(f"{cfg.name}: no interactions left after filtering (k_core={cfg.k_core})")
    inter, user_uniques = order_interactions(inter)
    item_codes, item_uniques = _sorted_codes(inter["item"].to_numpy())
    title_values = titles.reindex(item_uniques).fillna("").to_numpy()
    items = pd.DataFrame(
        {
            "item_id": np.arange(len(item_uniques), dtype=np.int64),
            "title": [
                clean_title(t) or f"item {r}"
                for t, r in zip(title_values, item_uniques, strict=True)
            ],
            "raw_id": [str(r) for r in item_uniques],
        }
    )
    user_ids = inter["user_id"].to_numpy()
    time = inter["timestamp"].to_numpy() if raw.has_timestamps else None
    frame = make_examples(user_ids, item_codes, time, cfg.max_history, cfg.min_history)
    if len(frame) == 0:
        raise UserError(
            f"{cfg.name}: no examples (no user has over {cfg.min_history} items after filtering)"
        )
    splits = split_examples(frame, cfg.split, has_timestamps=time is not None)
    return Examples(items, splits, len(user_uniques), len(inter), time is not None)


def make_examples(
    user_ids: np.ndarray,
    items: np.ndarray,
    time: np.ndarray | None,
    max_history: int,
    min_history: int = 1,
) -> pd.DataFrame:
    """One example per position with >= ``min_history`` earlier items of the same user.

    Inputs are sorted by (user, time). ``history`` holds the last ``max_history`` earlier items,
    oldest first, unpadded. Without timestamps ``timestamp`` is the position in the sequence.
    """
    n = len(items)
    starts = np.r_[0, np.flatnonzero(np.diff(user_ids)) + 1] if n else np.zeros(0, np.int64)
    lengths = np.diff(np.r_[starts, n])
    position = np.arange(n) - np.repeat(starts, lengths)
    rows = np.flatnonzero(position >= min_history)
    hist_len = np.minimum(position[rows], max_history)
    # histories are windows of the sorted item array: row r holds items[r - len : r]
    offsets = np.r_[0, np.cumsum(hist_len)]
    within = np.arange(offsets[-1]) - np.repeat(offsets[:-1], hist_len)
    values = items[np.repeat(rows - hist_len, hist_len) + within]
    history = pa.ListArray.from_arrays(
        pa.array(offsets.astype(np.int32)), pa.array(values, pa.int64())
    )
    stamp = time[rows] if time is not None else position[rows]
    return pd.DataFrame(
        {
            "example_id": np.arange(len(rows), dtype=np.int64),
            "user_id": user_ids[rows].astype(np.int64),
            "history": pd.arrays.ArrowExtensionArray(history),
            "history_len": hist_len.astype(np.int64),
            "next_item": items[rows].astype(np.int64),
            "timestamp": stamp.astype(np.int64),
        }
    )


def split_examples(
    frame: pd.DataFrame, split: SplitConfig, has_timestamps: bool
) -> dict[str, pd.DataFrame]:
    """Assign each example to train/val/test (examples are sorted by user, then time)."""
    n = len(frame)
    part = np.zeros(n, dtype=np.int8)  # 0 train, 1 val, 2 test
    train_r, val_r, _ = split.ratios
    if split.protocol == "temporal" and has_timestamps:
        # BIGRec: global time; ties keep the (user, position) order, so the split is deterministic.
        rank = np.empty(n, dtype=np.int64)
        rank[np.argsort(frame["timestamp"].to_numpy(), kind="stable")] = np.arange(n)
        part[rank >= round(n * train_r)] = 1
        part[rank >= round(n * (train_r + val_r))] = 2
    else:
        users = frame["user_id"].to_numpy()
        starts = np.r_[0, np.flatnonzero(np.diff(users)) + 1]
        counts = np.diff(np.r_[starts, n])
        from_end = np.repeat(starts + counts, counts) - np.arange(n)  # 1 = the user's last
        if split.protocol == "leave_one_out":
            n_test, n_val = np.ones_like(counts), np.ones_like(counts)
        else:  # per-user ratio: at least one val and one test example when the user has 3+
            n_test = np.ceil(counts * split.ratios[2] - 1e-9).astype(np.int64)
            n_val = np.ceil(counts * val_r - 1e-9).astype(np.int64)
        n_test = np.minimum(n_test, counts)
        n_val = np.minimum(n_val, counts - n_test)
        part[from_end <= np.repeat(n_test + n_val, counts)] = 1
        part[from_end <= np.repeat(n_test, counts)] = 2
    return {
        name: frame.loc[part == code].reset_index(drop=True)
        for code, name in enumerate(("train", "val", "test"))
    }

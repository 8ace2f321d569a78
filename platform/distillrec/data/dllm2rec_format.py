"""The DLLM2Rec reference format: read it, and export our prepared data into it.

Layout (``istarryn/DLLM2Rec`` ``data/<name>/``): ``data_statis.df`` (pandas pickle, one row:
``seq_size``, ``item_num``), ``train_data.df`` (pandas pickle) and ``val_data.csv`` /
``test_data.csv``, each with columns ``seq`` (``seq_size`` item ids, oldest first, right-padded
with the padding id ``item_num``), ``len_seq`` (real items in ``seq``) and ``next`` (the target).
The train file's row order is what the reference code's teacher files (``myrank_train.txt``,
``confidence_train.txt``) are aligned to, so export keeps our train order (``example_id``).
Pickles can run code when loaded: ``.df`` files are read by a restricted unpickler that admits
only plain DataFrames (:mod:`distillrec.data.safe_pickle`) unless ``--trust-pickle`` is given.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from distillrec.atomic import OVERWRITE_REMEDY, atomic_dir, check_output_dir
from distillrec.data.config import DatasetConfig
from distillrec.data.prepared import SPLITS, load_prepared
from distillrec.data.processing import Examples
from distillrec.data.safe_pickle import read_frame_pickle
from distillrec.errors import UserError

EXPORT_KIND = "DLLM2Rec export (distillrec data export-dllm2rec)"
STATIS_FILE = "data_statis.df"
FILES = {"train": "train_data.df", "val": "val_data.csv", "test": "test_data.csv"}


def read_statis(path: Path, *, trust_pickle: bool = False) -> tuple[int, int]:
    """``data_statis.df`` -> (seq_size, item_num)."""
    frame = read_frame_pickle(path, trust=trust_pickle)
    for column in ("seq_size", "item_num"):
        if column not in frame.columns:
            raise UserError(f"{path.name}: missing column {column!r}")
    return int(frame["seq_size"].iloc[0]), int(frame["item_num"].iloc[0])


def read_split_file(
    path: Path, seq_size: int, item_num: int, *, trust_pickle: bool = False
) -> pd.DataFrame:
    """One split file -> ``seq`` (rows of an [E, seq_size] int64 matrix), ``len_seq``, ``next``."""
    if path.suffix == ".df":
        frame = read_frame_pickle(path, trust=trust_pickle)
    else:
        frame = _read_csv(path)
    for column in ("seq", "len_seq", "next"):
        if column not in frame.columns:
            raise UserError(f"{path.name}: missing column {column!r}")
    line0 = 2 if path.suffix == ".csv" else 0  # csv: header is line 1; pickle: row numbers
    where = "line" if path.suffix == ".csv" else "row"
    seqs = _seq_matrix(path, frame["seq"], seq_size, line0, where)
    lens = _ints(path, frame["len_seq"], "len_seq", line0, where)
    nexts = _ints(path, frame["next"], "next", line0, where)
    bad_len = (lens < 0) | (lens > seq_size)
    real = np.arange(seq_size)[None, :] < lens[:, None]
    bad_item = ((seqs >= item_num) | (seqs < 0)) & real
    bad_pad = (seqs != item_num) & ~real
    bad_next = (nexts < 0) | (nexts >= item_num)
    checks = [
        (bad_len, f"len_seq outside 0..{seq_size}"),
        (bad_item.any(axis=1), f"seq holds an unknown item (item_num={item_num})"),
        (bad_pad.any(axis=1), f"seq is not right-padded with {item_num} after len_seq items"),
        (bad_next, f"next is an unknown item (item_num={item_num})"),
    ]
    for mask, problem in checks:
        if mask.any():
            raise UserError(f"{path.name} {where} {int(mask.argmax()) + line0}: {problem}")
    return pd.DataFrame({"seq": list(seqs), "len_seq": lens, "next": nexts})


def _read_csv(path: Path) -> pd.DataFrame:
    try:
        return pd.read_csv(path, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, UnicodeDecodeError) as err:
        raise UserError(f"{path.name}: not a readable CSV ({str(err).splitlines()[0]})") from None


def _as_integers(column: pd.Series) -> tuple[np.ndarray, int | None]:
    """``column`` as floats and the position of its first non-integer value (None if none)."""
    values = pd.to_numeric(column, errors="coerce").to_numpy(dtype=float)
    bad = np.isnan(values) | (values % 1 != 0)
    return values, (int(bad.argmax()) if bad.any() else None)


def _ints(path: Path, column: pd.Series, name: str, line0: int, where: str) -> np.ndarray:
    values, row = _as_integers(column)
    if row is not None:
        raise UserError(
            f"{path.name} {where} {row + line0}: {name} {column.iloc[row]!r} is not an integer"
        )
    return values.astype(np.int64)


def _seq_matrix(path: Path, column: pd.Series, size: int, line0: int, where: str) -> np.ndarray:
    """``"[1, 2, 3]"`` strings or lists -> an int64 matrix; a bad row names its line."""
    if len(column) and not isinstance(column.iloc[0], str):
        rows = [np.asarray(v).ravel() for v in column]
    else:
        rows = [
            np.array(s.strip().strip("[]").replace(",", " ").split()) for s in column.astype(str)
        ]
    for i, row in enumerate(rows):
        if len(row) != size:
            raise UserError(
                f"{path.name} {where} {i + line0}: seq has {len(row)} ids, expected {size}"
            )
    flat = pd.Series(np.concatenate(rows) if rows else np.array([], dtype=object))
    values, pos = _as_integers(flat)
    if pos is not None:
        raise UserError(
            f"{path.name} {where} {pos // size + line0}: "
            f"seq id {flat.iloc[pos]!r} is not an integer"
        )
    return values.astype(np.int64).reshape(len(rows), size)


def examples_from_dllm2rec(
    paths: dict[str, Path], cfg: DatasetConfig, *, trust_pickle: bool = False
) -> Examples:
    """Prepared tables from the reference files. The format has no users, titles or times:
    every row is its own pseudo-user, titles are ``item <id>``, ``timestamp`` is the row order.
    Rows with ``len_seq`` 0 are not examples (a target needs at least one earlier item)."""
    seq_size, item_num = read_statis(paths["statis"], trust_pickle=trust_pickle)
    splits, offset = {}, 0
    for name in SPLITS:
        frame = read_split_file(paths[name], seq_size, item_num, trust_pickle=trust_pickle)
        frame = frame.loc[frame["len_seq"] >= cfg.min_history].reset_index(drop=True)
        lens = np.minimum(frame["len_seq"].to_numpy(), cfg.max_history)
        matrix = np.stack(frame["seq"].to_numpy()) if len(frame) else np.zeros((0, seq_size), int)
        keep = np.arange(seq_size)[None, :] < frame["len_seq"].to_numpy()[:, None]
        keep &= np.arange(seq_size)[None, :] >= (frame["len_seq"].to_numpy() - lens)[:, None]
        offsets = np.r_[0, np.cumsum(lens)].astype(np.int32)
        history = pa.ListArray.from_arrays(pa.array(offsets), pa.array(matrix[keep], pa.int64()))
        ids = np.arange(offset, offset + len(frame), dtype=np.int64)
        splits[name] = pd.DataFrame(
            {
                "example_id": ids,
                "user_id": ids,
                "history": pd.arrays.ArrowExtensionArray(history),
                "history_len": lens.astype(np.int64),
                "next_item": frame["next"].to_numpy(),
                "timestamp": ids,
            }
        )
        offset += len(frame)
    if offset == 0:
        raise UserError(f"{cfg.name}: no examples (every row has len_seq < {cfg.min_history})")
    items = pd.DataFrame(
        {
            "item_id": np.arange(item_num, dtype=np.int64),
            "title": [f"item {i}" for i in range(item_num)],
            "raw_id": [str(i) for i in range(item_num)],
        }
    )
    return Examples(items, splits, offset, offset, has_timestamps=False)


def padded(histories: pd.Series, size: int, pad: int) -> np.ndarray:
    """Unpadded histories (oldest first) -> [E, size] right-padded with ``pad`` (last ``size``)."""
    lens = np.array([len(h) for h in histories], dtype=np.int64)
    flat = np.concatenate(list(histories)).astype(np.int64) if len(lens) else np.zeros(0, np.int64)
    matrix = np.full((len(lens), size), pad, dtype=np.int64)
    rows = np.repeat(np.arange(len(lens)), lens)
    cols = np.arange(len(flat)) - np.repeat(np.cumsum(lens) - lens, lens)
    start = np.repeat(np.maximum(lens - size, 0), lens)
    keep = cols >= start
    matrix[rows[keep], (cols - start)[keep]] = flat[keep]
    return matrix


def export_dllm2rec(prepared: str | Path, out: str | Path, *, overwrite: bool = False) -> Path:
    """Write a prepared folder in the reference layout (plus ``id2name.txt``: title TAB id)."""
    out = Path(out)
    where = {"kind": EXPORT_KIND, "signature": STATIS_FILE, "overwrite": overwrite}
    check_output_dir(out, **where, remedy=OVERWRITE_REMEDY)
    data = load_prepared(prepared)
    size, pad = data.meta.max_history, data.meta.num_items
    with atomic_dir(out, **where, remedy=OVERWRITE_REMEDY) as tmp:
        pd.DataFrame({"seq_size": [size], "item_num": [pad]}).to_pickle(tmp / STATIS_FILE)
        for name in SPLITS:
            frame = data.split(name).sort_values("example_id")
            matrix = padded(frame["history"], size, pad)
            lens = np.minimum(frame["history_len"].to_numpy(), size)
            table = pd.DataFrame(
                {
                    "seq": [list(map(int, r)) for r in matrix],
                    "len_seq": lens,
                    "next": frame["next_item"].to_numpy(),
                }
            )
            if name == "train":
                table.to_pickle(tmp / FILES[name])
            else:
                table["seq"] = ["[" + ", ".join(map(str, r)) + "]" for r in table["seq"]]
                table.to_csv(tmp / FILES[name], index=False)
        lines = [
            f"{t}\t{i}" for i, t in zip(data.items["item_id"], data.items["title"], strict=True)
        ]
        (tmp / "id2name.txt").write_text("\n".join(lines) + "\n")
    return out

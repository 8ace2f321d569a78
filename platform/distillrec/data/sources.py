"""One reader per raw format. Each returns :class:`RawData`: interactions + an item title table.

Readers are strict: a missing file or column, a non-numeric id/timestamp or undecodable bytes is a
:class:`UserError` naming the file, the line and the field. Ids stay raw (int or str) here; the
contiguous ids are assigned in ``processing.py``.
"""

from __future__ import annotations

import contextlib
import csv
import gzip
import io
import json
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from distillrec.data.config import DatasetConfig
from distillrec.errors import UserError


@dataclass
class RawData:
    """``interactions``: user, item, [timestamp], line (1-based source line, for messages);
    ``items``: raw_id, title. ``ratings_file``/``items_file`` name the files in messages."""

    interactions: pd.DataFrame
    items: pd.DataFrame
    ratings_file: str
    items_file: str
    unknown_items: str = "error"

    @property
    def has_timestamps(self) -> bool:
        return "timestamp" in self.interactions.columns


def read_text(path: Path, encoding: str) -> str:
    """Decode a whole file; undecodable bytes name the line and the byte."""
    data = path.read_bytes()
    if path.suffix == ".gz":
        data = gzip.decompress(data)
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as err:
        line = data[: err.start].count(b"\n") + 1
        byte = data[err.start : err.start + 1].hex()
        raise UserError(f"{path.name} line {line}: byte 0x{byte} is not valid {encoding}") from None
    except LookupError:
        raise UserError(f"{path.name}: unknown encoding {encoding!r}") from None


def read_table(
    path: Path,
    text: str,
    sep: str,
    names: list[str] | None,
    usecols: list[int] | None = None,
    ints: tuple[str, ...] = (),
) -> pd.DataFrame:
    """Parse a delimited text; ``names=None``: the first line is the header.

    Columns in ``ints`` are parsed as int64 by the C parser (fast); if any value is not an integer
    the text is parsed again as strings, so :func:`to_int` can name the bad line and value.
    """
    frame = None
    if ints:
        dtype = defaultdict(lambda: str, {c: np.int64 for c in ints})
        with contextlib.suppress(ValueError, OverflowError):
            frame = _parse(path, text, sep, names, usecols, dtype)
    if frame is None:
        frame = _parse(path, text, sep, names, usecols, str)
    first_line = 1 if names is not None else 2
    frame.insert(0, "line", np.arange(first_line, first_line + len(frame), dtype=np.int64))
    return frame


def _parse(path: Path, text: str, sep: str, names, usecols, dtype) -> pd.DataFrame:
    try:
        return pd.read_csv(
            io.StringIO(text),
            sep=sep,
            header=None if names is not None else 0,
            names=names,
            usecols=usecols,
            dtype=dtype,
            keep_default_na=False,
            na_values=[],
            quoting=csv.QUOTE_NONE if names is not None else csv.QUOTE_MINIMAL,
            index_col=False,
            engine="c",
        )
    except pd.errors.ParserError as err:
        raise UserError(f"{path.name}: {str(err).strip().splitlines()[-1]}") from None
    except pd.errors.EmptyDataError:
        raise UserError(f"{path.name}: file is empty") from None


def require_columns(path: Path, frame: pd.DataFrame, columns: list[str]) -> None:
    """A missing column names the file and the columns that are there."""
    for column in columns:
        if column not in frame.columns:
            found = ", ".join(c for c in frame.columns if c != "line")
            raise UserError(f"{path.name}: missing column {column!r} (found: {found})")


def to_int(path: Path, frame: pd.DataFrame, column: str, field: str | None = None) -> np.ndarray:
    """A column as int64; the first non-integer value names its line and field."""
    if frame[column].dtype == np.int64:
        return frame[column].to_numpy()
    values = pd.to_numeric(frame[column].str.strip(), errors="coerce")
    bad = values.isna().to_numpy() | (values.to_numpy(dtype=float) % 1 != 0)
    if bad.any():
        row = int(bad.argmax())
        line, value = int(frame["line"].iloc[row]), frame[column].iloc[row]
        raise UserError(f"{path.name} line {line}: {field or column} {value!r} is not an integer")
    return values.to_numpy().astype(np.int64)


def _interactions(path: Path, frame: pd.DataFrame, ids_numeric: bool, has_ts: bool) -> pd.DataFrame:
    out = {"line": frame["line"].to_numpy()}
    for column in ("user", "item"):
        out[column] = to_int(path, frame, column) if ids_numeric else frame[column].to_numpy()
    if has_ts:
        out["timestamp"] = to_int(path, frame, "timestamp")
    return pd.DataFrame(out)


def _movielens(
    paths: dict[str, Path], ratings_text: str, ratings_sep: str, items_text: str, items_sep: str
) -> RawData:
    """Both GroupLens layouts: integer ids, unix times, the title in the second item column."""
    ratings, items = paths["ratings"], paths["items"]
    names = ["user", "item", "timestamp"]
    inter = read_table(ratings, ratings_text, ratings_sep, names, [0, 1, 3], ints=tuple(names))
    item_frame = read_table(items, items_text, items_sep, ["raw_id", "title"], [0, 1])
    titles = pd.DataFrame(
        {
            "raw_id": to_int(items, item_frame, "raw_id", "movie id"),
            "title": item_frame["title"].to_numpy(),
        }
    )
    return RawData(_interactions(ratings, inter, True, True), titles, ratings.name, items.name)


def read_movielens_100k(cfg: DatasetConfig, paths: dict[str, Path]) -> RawData:
    """GroupLens ML-100K: ``u.data`` (user TAB item TAB rating TAB time), ``u.item`` (``|``)."""
    ratings = read_text(paths["ratings"], cfg.encoding)
    return _movielens(paths, ratings, "\t", read_text(paths["items"], cfg.encoding), "|")


def read_movielens_dat(cfg: DatasetConfig, paths: dict[str, Path]) -> RawData:
    """ML-1M/10M: ``ratings.dat`` (user::item::rating::time), ``movies.dat`` (id::title::genres)."""
    ratings = read_text(paths["ratings"], cfg.encoding).replace("::", "\t")
    movies = read_text(paths["items"], cfg.encoding).replace("::", "\t")
    return _movielens(paths, ratings, "\t", movies, "\t")


def read_amazon_2018(cfg: DatasetConfig, paths: dict[str, Path]) -> RawData:
    """Amazon Review Data 2018: ratings CSV (item,user,rating,timestamp; no header) + metadata
    JSON lines (``asin``, ``title``; ``.gz`` allowed). Items without a title are dropped, as in
    BIGRec/LC-Rec processing."""
    ratings, items = paths["ratings"], paths["items"]
    text = read_text(ratings, cfg.encoding)
    names = ["item", "user", "timestamp"]
    inter = read_table(ratings, text, ",", names, [0, 1, 3], ints=("timestamp",))
    records = []
    for number, line in enumerate(read_text(items, cfg.encoding).splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as err:
            raise UserError(f"{items.name} line {number}: not valid JSON ({err.msg})") from None
        if not isinstance(record, dict) or "asin" not in record:
            raise UserError(f"{items.name} line {number}: missing field 'asin'")
        title = record.get("title")
        if isinstance(title, str) and title.strip():
            records.append((str(record["asin"]), title))
    item_frame = pd.DataFrame(records, columns=["raw_id", "title"])
    return RawData(
        _interactions(ratings, inter, False, True), item_frame, ratings.name, items.name, "drop"
    )


def _read_items_table(cfg: DatasetConfig, path: Path, sep: str) -> pd.DataFrame:
    frame = read_table(path, read_text(path, cfg.encoding), sep, None)
    require_columns(path, frame, [cfg.columns.items_id, cfg.columns.title])
    return pd.DataFrame(
        {
            "raw_id": frame[cfg.columns.items_id].str.strip().to_numpy(),
            "title": frame[cfg.columns.title].to_numpy(),
        }
    )


def read_interactions(cfg: DatasetConfig, paths: dict[str, Path]) -> RawData:
    """Generic tables with a header: interactions (user, item[, timestamp]) + items (id, title)."""
    ratings, items = paths["ratings"], paths["items"]
    cols = cfg.columns
    ints = (cols.timestamp,) if cols.timestamp else ()
    frame = read_table(ratings, read_text(ratings, cfg.encoding), cfg.separator, None, ints=ints)
    wanted = [cols.user, cols.item] + ([cols.timestamp] if cols.timestamp else [])
    require_columns(ratings, frame, wanted)
    renamed = frame.rename(
        columns={cols.user: "user", cols.item: "item", cols.timestamp: "timestamp"}
    )
    inter = pd.DataFrame(
        {
            "line": renamed["line"].to_numpy(),
            "user": renamed["user"].str.strip().to_numpy(),
            "item": renamed["item"].str.strip().to_numpy(),
        }
    )
    if cols.timestamp:
        inter["timestamp"] = to_int(ratings, renamed, "timestamp", cols.timestamp)
    return RawData(inter, _read_items_table(cfg, items, cfg.separator), ratings.name, items.name)


def read_sequences(cfg: DatasetConfig, paths: dict[str, Path]) -> RawData:
    """Generic sequences: ``sequences.tsv`` (user, space-separated item ids, oldest first) +
    ``items.tsv`` (item id, ..., title). No timestamps: the order in the file is the order."""
    seqs, items = paths["sequences"], paths["items"]
    frame = read_table(seqs, read_text(seqs, cfg.encoding), "\t", None)
    require_columns(seqs, frame, [cfg.columns.user, cfg.columns.item_ids])
    lists = frame[cfg.columns.item_ids].str.split()
    lengths = lists.str.len().to_numpy()
    if (lengths == 0).any():
        line = int(frame["line"].to_numpy()[(lengths == 0).argmax()])
        raise UserError(f"{seqs.name} line {line}: {cfg.columns.item_ids} is empty")
    inter = pd.DataFrame(
        {
            "line": np.repeat(frame["line"].to_numpy(), lengths),
            "user": np.repeat(frame[cfg.columns.user].str.strip().to_numpy(), lengths),
            "item": np.concatenate(lists.to_numpy()) if len(lists) else np.array([], dtype=object),
        }
    )
    return RawData(inter, _read_items_table(cfg, items, "\t"), seqs.name, items.name)


READERS = {
    "movielens-100k": read_movielens_100k,
    "movielens-dat": read_movielens_dat,
    "amazon-2018": read_amazon_2018,
    "interactions": read_interactions,
    "sequences": read_sequences,
}


def read_source(cfg: DatasetConfig, paths: dict[str, Path]) -> RawData:
    """Dispatch on ``cfg.format`` (the ``dllm2rec`` format is read by ``dllm2rec_format.py``)."""
    return READERS[cfg.format](cfg, paths)

"""The prepared-dataset folder (Contract 1): write it atomically, read it as pandas or Ray Data.

``items.parquet``, ``train/val/test.parquet`` and ``meta.json``; the fingerprint is a sha256 over
the bytes of the four parquet files, so downstream artifacts can prove which data they used.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from pydantic import BaseModel, ConfigDict, ValidationError

from distillrec.atomic import OVERWRITE_REMEDY, atomic_dir, check_output_dir
from distillrec.errors import UserError
from distillrec.readers import read_parquet

OUTPUT_KIND = "prepared dataset (distillrec data prepare)"
META_FILE = "meta.json"
SPLITS = ("train", "val", "test")
TABLES = ("items", *SPLITS)

ITEMS_SCHEMA = pa.schema([("item_id", pa.int64()), ("title", pa.string()), ("raw_id", pa.string())])
EXAMPLES_SCHEMA = pa.schema(
    [
        ("example_id", pa.int64()),
        ("user_id", pa.int64()),
        ("history", pa.list_(pa.int64())),
        ("history_len", pa.int64()),
        ("next_item", pa.int64()),
        ("timestamp", pa.int64()),
    ]
)


class DatasetMeta(BaseModel):
    """``meta.json``: sizes, protocol, provenance and the content fingerprint."""

    model_config = ConfigDict(extra="allow")

    name: str
    num_users: int
    num_items: int
    padding_id: int
    max_history: int
    num_train: int
    num_val: int
    num_test: int
    split: dict[str, Any]
    source: dict[str, Any]
    fingerprint: str
    k_core: int = 0
    min_history: int = 1
    num_interactions: int | None = None


@dataclass
class PreparedDataset:
    """A prepared dataset loaded as pandas frames (``history`` cells are int64 numpy arrays)."""

    path: Path
    meta: DatasetMeta
    items: pd.DataFrame
    train: pd.DataFrame
    val: pd.DataFrame
    test: pd.DataFrame

    @property
    def fingerprint(self) -> str:
        return self.meta.fingerprint

    def split(self, name: str) -> pd.DataFrame:
        """``"train"``, ``"val"`` or ``"test"``."""
        if name not in SPLITS:
            raise UserError(f"unknown split {name!r} (choose from {', '.join(SPLITS)})")
        return getattr(self, name)


def fingerprint_files(folder: Path) -> str:
    """sha256 over the four parquet files' bytes, in a fixed order."""
    return fingerprint_bytes({t: (folder / f"{t}.parquet").read_bytes() for t in TABLES})


def fingerprint_bytes(contents: dict[str, bytes]) -> str:
    """The fingerprint of the tables' file contents (``{"items": b"...", "train": ...}``)."""
    digest = hashlib.sha256()
    for table in TABLES:
        digest.update(table.encode())
        digest.update(contents[table])
    return digest.hexdigest()


def check_prepared_output(out_dir: Path, *, overwrite: bool = False) -> None:
    """Refuse an unusable ``--out`` before any work (see :func:`distillrec.atomic.atomic_dir`)."""
    check_output_dir(
        out_dir, OUTPUT_KIND, signature=META_FILE, overwrite=overwrite, remedy=OVERWRITE_REMEDY
    )


def write_prepared(
    out_dir: Path,
    items: pd.DataFrame,
    splits: dict[str, pd.DataFrame],
    meta: dict[str, Any],
    *,
    overwrite: bool = False,
) -> DatasetMeta:
    """Write the folder into a temporary sibling and rename it: never half written."""
    with atomic_dir(
        out_dir, kind=OUTPUT_KIND, signature=META_FILE, overwrite=overwrite, remedy=OVERWRITE_REMEDY
    ) as tmp:
        _write_table(tmp / "items.parquet", items, ITEMS_SCHEMA)
        for name in SPLITS:
            _write_table(tmp / f"{name}.parquet", splits[name], EXAMPLES_SCHEMA)
        full = DatasetMeta(**meta, fingerprint=fingerprint_files(tmp))
        (tmp / "meta.json").write_text(json.dumps(full.model_dump(), indent=2) + "\n")
    return full


def _write_table(path: Path, frame: pd.DataFrame, schema: pa.Schema) -> None:
    table = pa.Table.from_pandas(frame[schema.names], schema=schema, preserve_index=False)
    pq.write_table(table.replace_schema_metadata(None), path, compression="zstd")


def read_meta(path: str | Path) -> DatasetMeta:
    """Read and validate ``meta.json`` of a prepared folder."""
    meta_path = Path(path) / "meta.json"
    if not meta_path.is_file():
        raise UserError(
            f"{path}: not a prepared dataset (no meta.json; run distillrec data prepare)"
        )
    try:
        return DatasetMeta.model_validate_json(meta_path.read_text())
    except ValidationError as err:
        first = err.errors()[0]
        raise UserError(
            f"{meta_path}: field {'.'.join(map(str, first['loc']))}: {first['msg']}"
        ) from None


def load_prepared(path: str | Path) -> PreparedDataset:
    """Load a prepared folder as pandas (Contract 1), verifying its content.

    Each file is read once; its bytes are both hashed and parsed, so checking the fingerprint
    in ``meta.json`` costs one sha256 pass (measured in docs/reliability.md). A file replaced or
    edited after ``data prepare`` is refused instead of silently training on other data.
    """
    path = Path(path)
    meta = read_meta(path)
    contents, frames = {}, {}
    for table in TABLES:
        file = path / f"{table}.parquet"
        if not file.is_file():
            raise UserError(f"{file}: missing (the prepared folder is incomplete)")
        contents[table] = file.read_bytes()
        frames[table] = read_parquet(file, contents[table]).to_pandas()
    _check_fingerprint(path, meta, fingerprint_bytes(contents))
    return PreparedDataset(path=path, meta=meta, **frames)


def verified_fingerprint(path: str | Path) -> str:
    """The fingerprint in ``meta.json``, after checking the files still have it (no parsing)."""
    meta = read_meta(path)
    for table in TABLES:
        if not (Path(path) / f"{table}.parquet").is_file():
            raise UserError(f"{Path(path) / table}.parquet: missing (the folder is incomplete)")
    _check_fingerprint(Path(path), meta, fingerprint_files(Path(path)))
    return meta.fingerprint


def _check_fingerprint(path: Path, meta: DatasetMeta, actual: str) -> None:
    if actual != meta.fingerprint:
        raise UserError(
            f"{path}: the parquet files do not match the fingerprint in meta.json (changed "
            "after `distillrec data prepare`?); prepare the dataset again"
        )


def read_split_ray(path: str | Path, split: str):
    """One split as a Ray Dataset (starts or attaches to Ray via ``ensure_ray``)."""
    import ray

    from distillrec.runtime import ensure_ray

    if split not in TABLES:
        raise UserError(f"unknown split {split!r} (choose from {', '.join(TABLES)})")
    file = Path(path).resolve() / f"{split}.parquet"
    if not file.is_file():
        raise UserError(f"{file}: missing (run distillrec data prepare)")
    ensure_ray()
    return ray.data.read_parquet(str(file))

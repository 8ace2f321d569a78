"""The teacher artifact: the contract between teacher inference and student distillation.

A teacher artifact folder holds

- ``rankings.parquet``: one row per example the teacher saw: ``example_id`` (int64),
  ``items`` (list<int64>, best first) and ``distances`` (list<float32>, ascending, same length);
- ``item_embeddings.safetensors``: tensor ``embeddings`` of shape ``[num_items, d]`` (any d),
  row ``i`` is the teacher's embedding of item ``i``;
- ``manifest.json``: how it was made; at least ``dataset_fingerprint``, ``num_items``,
  ``embedding_dim``, ``topk`` and ``num_rankings``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from distillrec.atomic import atomic_dir, write_json_atomic
from distillrec.errors import UserError
from distillrec.readers import load_safetensors, read_parquet

RANKINGS_FILE = "rankings.parquet"
EMBEDDINGS_FILE = "item_embeddings.safetensors"
MANIFEST_FILE = "manifest.json"
ARTIFACT_KIND = "teacher artifact"
EMBEDDINGS_TENSOR = "embeddings"

RANKINGS_SCHEMA = pa.schema(
    [
        ("example_id", pa.int64()),
        ("items", pa.list_(pa.int64())),
        ("distances", pa.list_(pa.float32())),
    ]
)


@dataclass
class TeacherArtifact:
    """An in-memory teacher artifact (see module docstring for the on-disk contract)."""

    rankings: pd.DataFrame
    item_embeddings: np.ndarray
    manifest: dict[str, Any] = field(default_factory=dict)

    @property
    def num_items(self) -> int:
        return int(self.item_embeddings.shape[0])

    @property
    def embedding_dim(self) -> int:
        return int(self.item_embeddings.shape[1])

    def topk_arrays(self, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Return ``(example_ids [n], items [n, k], distances [n, k])`` truncated to ``k``.

        Rows with fewer than ``k`` candidates are an error: distillation needs a full top-K.
        """
        lengths = self.rankings["items"].map(len).to_numpy()
        if len(lengths) and lengths.min() < k:
            raise UserError(
                f"teacher artifact: candidate_topk={k} but some rankings have only "
                f"{int(lengths.min())} items"
            )
        ids = self.rankings["example_id"].to_numpy(dtype=np.int64)
        items = np.stack([np.asarray(v[:k], dtype=np.int64) for v in self.rankings["items"]])
        dists = np.stack([np.asarray(v[:k], dtype=np.float32) for v in self.rankings["distances"]])
        if not len(ids):
            items = np.zeros((0, k), np.int64)
            dists = np.zeros((0, k), np.float32)
        return ids, items, dists


def ranked_mask(example_ids: np.ndarray, ranked_ids: np.ndarray) -> np.ndarray:
    """Which of ``example_ids`` ``[n]`` the teacher ranked (``ranked_ids``: its rankings'
    ``example_id``), matched by example id: bool ``[n]``."""
    return np.isin(np.asarray(example_ids), np.asarray(ranked_ids))


def train_coverage(train_ids: np.ndarray, ranked_ids: np.ndarray) -> float:
    """The teacher's training coverage: the share of a dataset's training examples
    (``train_ids``, its train split's ``example_id``) that the teacher ranked. A property of the
    teacher on that dataset, the same for every run compared with it; the runs that distil rank
    exactly these rows (``training.batches.align_teacher``). 0.0 for no training example."""
    return float(ranked_mask(train_ids, ranked_ids).mean()) if len(train_ids) else 0.0


def validate_rankings(df: pd.DataFrame, num_items: int, source: str) -> None:
    """Check the rankings table against the contract; raise :class:`UserError` naming the row.

    Vectorised over the flattened lists, so validating 350k rankings takes well under a second.
    """
    missing = {"example_id", "items", "distances"} - set(df.columns)
    if missing:
        raise UserError(f"{source}: missing column(s) {sorted(missing)}")
    if df["example_id"].duplicated().any():
        dup = int(df.loc[df["example_id"].duplicated(), "example_id"].iloc[0])
        raise UserError(f"{source}: example_id {dup} appears more than once")
    if df.empty:
        return
    item_lens = df["items"].map(len).to_numpy()
    dist_lens = df["distances"].map(len).to_numpy()
    ids = df["example_id"].to_numpy()
    bad = np.flatnonzero(item_lens != dist_lens)
    if len(bad):
        raise UserError(f"{source}: example_id {ids[bad[0]]}: items/distances lengths differ")
    owner = np.repeat(np.arange(len(df)), item_lens)
    items = np.concatenate([np.asarray(v, dtype=np.int64) for v in df["items"]])
    dists = np.concatenate([np.asarray(v, dtype=np.float64) for v in df["distances"]])
    bad = np.flatnonzero((items < 0) | (items >= num_items))
    if len(bad):
        row = ids[owner[bad[0]]]
        raise UserError(f"{source}: example_id {row}: item id out of [0, {num_items})")
    same_row = owner[1:] == owner[:-1]
    bad = np.flatnonzero(same_row & (np.diff(dists) < -1e-6))
    if len(bad):
        raise UserError(f"{source}: example_id {ids[owner[bad[0]]]}: distances not ascending")


def write_artifact(out_dir: str | Path, artifact: TeacherArtifact) -> Path:
    """Write an artifact folder atomically (temp folder + rename)."""
    from safetensors.numpy import save_file

    out_dir = Path(out_dir)
    validate_rankings(artifact.rankings, artifact.num_items, str(out_dir / RANKINGS_FILE))
    manifest = dict(artifact.manifest)
    manifest.update(
        num_items=artifact.num_items,
        embedding_dim=artifact.embedding_dim,
        num_rankings=int(len(artifact.rankings)),
    )
    manifest.setdefault("topk", int(artifact.rankings["items"].map(len).max() or 0))
    with atomic_dir(out_dir, kind=ARTIFACT_KIND, signature=MANIFEST_FILE) as tmp:
        table = pa.Table.from_pandas(
            artifact.rankings[["example_id", "items", "distances"]],
            schema=RANKINGS_SCHEMA,
            preserve_index=False,
        )
        pq.write_table(table, tmp / RANKINGS_FILE)
        emb = np.ascontiguousarray(artifact.item_embeddings, dtype=np.float32)
        save_file({EMBEDDINGS_TENSOR: emb}, str(tmp / EMBEDDINGS_FILE))
        write_json_atomic(tmp / MANIFEST_FILE, manifest)
    return out_dir


def manifest_sha256(path: str | Path) -> str:
    """sha256 of an artifact's ``manifest.json`` bytes: names the exact teacher a run used (the
    manifest holds the dataset fingerprint, model, prompt, grounding and counts)."""
    import hashlib

    return hashlib.sha256((Path(path) / MANIFEST_FILE).read_bytes()).hexdigest()


DEFAULT_TEACHER_CONFIG = "configs/teacher/smollm2-135m.yaml"


def how_to_create(path: str | Path, dataset: str | Path | None = None) -> str:
    """The command that writes a teacher artifact at ``path`` (for "missing artifact" errors)."""
    command = f"distillrec teacher infer -c {DEFAULT_TEACHER_CONFIG} --out {path}"
    if dataset is not None:
        command += f" dataset={dataset}"
    return f"`{command}` writes one (docs/teacher.md)"


def read_manifest(
    path: str | Path, expected_fingerprint: str | None = None, min_topk: int | None = None
) -> dict[str, Any]:
    """An artifact's ``manifest.json``, checked without loading the rankings or embeddings.

    The one check of a teacher artifact before it is used (training, sweeps before Ray starts,
    studies): refuse one made for another dataset (``expected_fingerprint``) or one whose rankings
    are shorter than the ``candidate_topk`` a run will ask for (``min_topk``; manifests without a
    ``topk`` are checked when the rankings are read).
    """
    path = Path(path)
    if not path.exists():
        raise UserError(
            f"teacher artifact {path}: missing {MANIFEST_FILE} (the folder does not exist); "
            f"{how_to_create(path)}"
        )
    if not (path / MANIFEST_FILE).is_file():
        raise UserError(f"teacher artifact {path}: missing {MANIFEST_FILE}")
    try:
        manifest = json.loads((path / MANIFEST_FILE).read_text())
    except json.JSONDecodeError as err:
        raise UserError(f"{path / MANIFEST_FILE}: invalid JSON ({err})") from None
    if expected_fingerprint is not None:
        got = manifest.get("dataset_fingerprint")
        if got != expected_fingerprint:
            raise UserError(
                f"teacher artifact {path}: made for dataset fingerprint {got!r}, but the prepared "
                f"dataset has {expected_fingerprint!r}; re-run teacher inference on this dataset"
            )
    topk = manifest.get("topk")
    if min_topk is not None and topk is not None and int(topk) < min_topk:
        raise UserError(
            f"teacher artifact {path}: candidate_topk={min_topk} but its rankings hold the top "
            f"{topk} items; lower candidate_topk or re-run teacher inference with "
            f"grounding.topk >= {min_topk}"
        )
    return manifest


def read_artifact(
    path: str | Path, *, expected_fingerprint: str | None = None, min_topk: int | None = None
) -> TeacherArtifact:
    """Load and validate an artifact, after the checks of :func:`read_manifest`."""
    path = Path(path)
    manifest = read_manifest(path, expected_fingerprint, min_topk)
    for name in (RANKINGS_FILE, EMBEDDINGS_FILE):
        if not (path / name).is_file():
            raise UserError(f"teacher artifact {path}: missing {name}")
    tensors = load_safetensors(path / EMBEDDINGS_FILE)
    if EMBEDDINGS_TENSOR not in tensors:
        raise UserError(f"{path / EMBEDDINGS_FILE}: no tensor named {EMBEDDINGS_TENSOR!r}")
    emb = tensors[EMBEDDINGS_TENSOR]
    if emb.ndim != 2:
        raise UserError(f"{path / EMBEDDINGS_FILE}: expected [num_items, d], got {emb.shape}")
    rankings = read_parquet(path / RANKINGS_FILE).to_pandas()
    validate_rankings(rankings, int(emb.shape[0]), str(path / RANKINGS_FILE))
    return TeacherArtifact(rankings=rankings, item_embeddings=emb, manifest=manifest)

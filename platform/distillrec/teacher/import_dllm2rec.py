"""Import a teacher made by the DLLM2Rec reference code into our artifact contract.

The reference writes, per training row, ``myrank_train.txt`` (the teacher's top-K item ids, one
row per line) and ``confidence_train.txt`` (their grounding distances), plus ``all_embeddings.pt``
(a ``[num_items, d]`` tensor of the teacher's item embeddings).

Assumption (the reference keeps no example ids): row i of its files is the i-th row of its
``train_data.df``, which we take to be the i-th row of our prepared ``train.parquet``. So the
prepared dataset must have been built from the same data in the same order; we require at least
that its train split has exactly as many rows and the same number of items.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd

from distillrec.errors import UserError
from distillrec.teacher.artifact import TeacherArtifact, write_artifact

RANK_FILE = "myrank_train.txt"
CONFIDENCE_FILE = "confidence_train.txt"
EMBEDDINGS_FILE = "all_embeddings.pt"


def _read_matrix(path: Path, dtype) -> np.ndarray:
    if not path.is_file():
        raise UserError(f"{path}: not found")
    try:
        matrix = np.loadtxt(path, dtype=np.float64, ndmin=2)
    except ValueError as err:
        raise UserError(f"{path}: not a numeric matrix ({str(err).splitlines()[0]})") from None
    return matrix.astype(dtype)


def _read_embeddings(path: Path) -> np.ndarray:
    import torch

    if not path.is_file():
        raise UserError(f"{path}: not found")
    try:
        tensor = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises many types for a bad or unsafe pickle
        raise UserError(f"{path}: cannot load safely ({str(err).splitlines()[0]})") from None
    if not isinstance(tensor, torch.Tensor) or tensor.dim() != 2:
        raise UserError(f"{path}: expected one [num_items, d] tensor")
    return tensor.detach().float().numpy()


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def import_dllm2rec(source_dir: str | Path, dataset_dir: str | Path, out_dir: str | Path) -> Path:
    """Convert the reference's three files in ``source_dir`` into an artifact at ``out_dir``."""
    from distillrec.data import load_prepared

    source = Path(source_dir)
    dataset = load_prepared(dataset_dir)
    ranks = _read_matrix(source / RANK_FILE, np.int64)
    dists = _read_matrix(source / CONFIDENCE_FILE, np.float32)
    emb = _read_embeddings(source / EMBEDDINGS_FILE)
    if ranks.shape != dists.shape:
        raise UserError(
            f"{source}: {RANK_FILE} is {ranks.shape[0]}x{ranks.shape[1]} but {CONFIDENCE_FILE} "
            f"is {dists.shape[0]}x{dists.shape[1]}"
        )
    if len(ranks) != len(dataset.train):
        raise UserError(
            f"{source / RANK_FILE}: {len(ranks)} rows, but {dataset_dir} has {len(dataset.train)} "
            "training examples; rows map to training examples in order, so they must match"
        )
    if emb.shape[0] != dataset.meta.num_items:
        raise UserError(
            f"{source / EMBEDDINGS_FILE}: {emb.shape[0]} items, the dataset has "
            f"{dataset.meta.num_items}"
        )
    rankings = pd.DataFrame(
        {
            "example_id": dataset.train["example_id"].to_numpy(dtype=np.int64),
            "items": list(ranks),
            "distances": list(dists),
        }
    )
    manifest = {
        "dataset_fingerprint": dataset.fingerprint,
        "source": "dllm2rec-import",
        "alignment": "row i of the reference files = row i of train.parquet",
        "source_files": {
            name: _sha256(source / name) for name in (RANK_FILE, CONFIDENCE_FILE, EMBEDDINGS_FILE)
        },
        "topk": int(ranks.shape[1]),
    }
    return write_artifact(out_dir, TeacherArtifact(rankings, emb, manifest))

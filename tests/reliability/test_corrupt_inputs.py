"""Changed or corrupt input files: one line naming the file, exit 2, before any work."""

from __future__ import annotations

import shutil
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from reliability_helpers import run_cli, train_args, user_error_line, write_small_teacher

from distillrec.data.prepared import verified_fingerprint
from distillrec.errors import UserError


@pytest.fixture
def dataset_copy(ml100k: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(ml100k, tmp_path / "ml-100k"))


def test_a_replaced_split_fails_the_fingerprint(dataset_copy: Path, tmp_path: Path):
    """Before: a valid train.parquet with half the rows was accepted with the old fingerprint."""
    table = pq.read_table(dataset_copy / "train.parquet")
    pq.write_table(table.slice(0, table.num_rows // 2), dataset_copy / "train.parquet")
    line = user_error_line(run_cli("data", "stats", str(dataset_copy), cwd=tmp_path))
    assert str(dataset_copy) in line and "fingerprint in meta.json" in line
    with pytest.raises(UserError, match="fingerprint"):  # what a sweep checks before Ray starts
        verified_fingerprint(dataset_copy)


def test_a_corrupt_parquet_names_the_file(dataset_copy: Path, tmp_path: Path):
    (dataset_copy / "val.parquet").write_bytes(b"PAR1 not really")
    line = user_error_line(run_cli("data", "stats", str(dataset_copy), cwd=tmp_path))
    assert f"{dataset_copy / 'val.parquet'}: not a readable parquet file" in line


@pytest.mark.integration
def test_a_corrupt_teacher_safetensors_names_the_file(ml100k: Path, tmp_path: Path):
    from distillrec.teacher.artifact import EMBEDDINGS_FILE

    teacher = write_small_teacher(ml100k, tmp_path / "teacher")
    (teacher / EMBEDDINGS_FILE).write_bytes(b"\x08\x00\x00\x00\x00\x00\x00\x00{garbage")
    args = train_args(ml100k, tmp_path, "epochs=1")
    line = user_error_line(run_cli(*args, "--teacher", str(teacher), cwd=tmp_path))
    assert f"{teacher / EMBEDDINGS_FILE}: not a readable safetensors file" in line

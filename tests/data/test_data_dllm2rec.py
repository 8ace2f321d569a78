"""The DLLM2Rec reference format: the published files read back, export round trip, errors."""

from __future__ import annotations

import ast
import os
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from distillrec.cli import app
from distillrec.data import load_prepared, prepare_dataset
from distillrec.data.dllm2rec_format import padded, read_split_file, read_statis

runner = CliRunner()


def test_padded_keeps_the_last_items_oldest_first():
    matrix = padded(pd.Series([[1], [1, 2, 3, 4]]), size=3, pad=9)
    assert matrix.tolist() == [[1, 9, 9], [2, 3, 4]]


def test_reads_the_published_game_files(data_mirror: Path):
    folder = data_mirror / "dllm2rec-game-format"
    seq_size, item_num = read_statis(folder / "data_statis.df")
    assert (seq_size, item_num) == (10, 17408)
    val = read_split_file(folder / "val_data.csv", seq_size, item_num)
    assert len(val) == 14980
    first = pd.read_csv(folder / "val_data.csv", nrows=2)
    assert val["seq"][1].tolist() == ast.literal_eval(first["seq"][1])
    assert val["len_seq"][1] == 6 and val["next"][1] == 3992


def _reference_dir(tmp_path: Path, data_mirror: Path) -> Path:
    """The published statis/val/test plus a handmade train_data.df (the real one is missing)."""
    folder = tmp_path / "raw"
    folder.mkdir()
    for name in ("data_statis.df", "val_data.csv", "test_data.csv"):
        os.symlink(data_mirror / "dllm2rec-game-format" / name, folder / name)
    train = pd.DataFrame(
        {
            "seq": [[5] + [17408] * 9, [5, 6, 7] + [17408] * 7, [17408] * 10],
            "len_seq": [1, 3, 0],
            "next": [6, 8, 5],
        }
    )
    train.to_pickle(folder / "train_data.df")
    return folder


def test_prepare_from_the_reference_format(tmp_path: Path, data_mirror: Path):
    raw = _reference_dir(tmp_path, data_mirror)
    data = load_prepared(
        prepare_dataset("dllm2rec-game-format", raw_dir=raw, out_dir=tmp_path / "o")
    )
    assert data.meta.num_items == 17408 and data.meta.padding_id == 17408
    assert len(data.train) == 2  # the all-padding row has no history: not an example
    assert [h.tolist() for h in data.train["history"]] == [[5], [5, 6, 7]]
    assert len(data.val) == 14980 and len(data.test) == 14980
    assert data.val["history"][1].tolist() == [14965, 16169, 9140, 7618, 14646, 4821]
    assert data.meta.split["protocol"] == "given"


def test_published_mirror_copy_without_train_file_is_a_clear_error(data_mirror: Path, tmp_path):
    out = tmp_path / "o"
    result = runner.invoke(app, ["data", "prepare", "dllm2rec-game-format", "--out", str(out)])
    assert result.exit_code == 2
    assert "train_data.df: file not found" in result.stderr and not out.exists()


def test_unknown_item_in_a_reference_file(tmp_path: Path, data_mirror: Path):
    raw = _reference_dir(tmp_path, data_mirror)
    (raw / "val_data.csv").unlink()
    (raw / "val_data.csv").write_text(
        'seq,len_seq,next\n"[1, 2, 17408, 17408, 17408, 17408, 17408, 17408, 17408, 17408]",2,3\n'
        '"[1, 99999, 17408, 17408, 17408, 17408, 17408, 17408, 17408, 17408]",2,3\n'
    )
    out = tmp_path / "o"
    result = runner.invoke(
        app, ["data", "prepare", "dllm2rec-game-format", "--raw-dir", str(raw), "--out", str(out)]
    )
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "val_data.csv line 3: seq holds an unknown item" in result.stderr
    assert not out.exists()


@pytest.mark.integration
def test_export_round_trip_on_ml100k(ml100k: Path, tmp_path: Path):
    out = tmp_path / "dllm2rec"
    result = runner.invoke(app, ["data", "export-dllm2rec", str(ml100k), "--out", str(out)])
    assert result.exit_code == 0, result.output
    data = load_prepared(ml100k)
    statis = pd.read_pickle(out / "data_statis.df")
    assert (statis["seq_size"][0], statis["item_num"][0]) == (10, 1682)
    train = pd.read_pickle(out / "train_data.df")  # what the reference code reads
    assert len(train) == len(data.train)
    assert all(len(s) == 10 for s in train["seq"][:100])
    row = data.train.iloc[0]
    assert train["seq"][0][: row.history_len] == row.history.tolist()
    assert set(train["seq"][0][row.history_len :]) <= {1682}
    assert train["next"].tolist() == data.train["next_item"].tolist()
    for name, frame in (("val", data.val), ("test", data.test)):
        back = read_split_file(out / f"{name}_data.csv", 10, 1682)
        assert back["next"].tolist() == frame["next_item"].tolist()
        assert [s[:n].tolist() for s, n in zip(back["seq"], back["len_seq"], strict=True)] == [
            h.tolist() for h in frame["history"]
        ]
    titles = (out / "id2name.txt").read_text().splitlines()
    assert titles[0] == "Toy Story (1995)\t0" and len(titles) == 1682

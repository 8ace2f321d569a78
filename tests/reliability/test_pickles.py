"""A crafted DLLM2Rec pickle never runs: ``data prepare`` refuses it and says what to do."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import pandas as pd
from reliability_helpers import run_cli, user_error_line


class Payload:
    """Unpickling this calls ``os.system`` (what an attacker's ``data_statis.df`` would do)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def _raw_folder(tmp_path: Path, data_mirror: Path, statis: bytes) -> Path:
    raw = tmp_path / "raw"
    raw.mkdir()
    for name in ("val_data.csv", "test_data.csv"):
        os.symlink(data_mirror / "dllm2rec-game-format" / name, raw / name)
    (raw / "data_statis.df").write_bytes(statis)
    train = pd.DataFrame({"seq": [[5, 6] + [17408] * 8], "len_seq": [2], "next": [7]})
    train.to_pickle(raw / "train_data.df")
    return raw


def test_crafted_pickle_is_never_executed(tmp_path: Path, data_mirror: Path):
    marker = tmp_path / "PWNED"
    raw = _raw_folder(tmp_path, data_mirror, pickle.dumps(Payload(marker)))
    args = ["data", "prepare", "dllm2rec-game-format", "--raw-dir", str(raw)]
    result = run_cli(*args, "--out", str(tmp_path / "out"), cwd=tmp_path, timeout=120)
    line = user_error_line(result)
    assert not marker.exists()  # before the fix: pd.read_pickle ran the payload
    assert "data_statis.df" in line and "posix.system" in line and "--trust-pickle" in line
    assert not (tmp_path / "out").exists()


def test_plain_pickles_still_load(tmp_path: Path, data_mirror: Path):
    statis = pd.DataFrame({"seq_size": [10], "item_num": [17408]})
    raw = _raw_folder(tmp_path, data_mirror, pickle.dumps(statis, protocol=2))
    args = ["data", "prepare", "dllm2rec-game-format", "--raw-dir", str(raw)]
    result = run_cli(*args, "--out", str(tmp_path / "out"), cwd=tmp_path, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert (tmp_path / "out" / "meta.json").is_file()

"""A crafted DLLM2Rec pickle never runs: ``data prepare`` refuses it and says what to do."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import pandas as pd
import pytest
from reliability_helpers import run_cli, user_error_line

from distillrec.data.safe_pickle import read_frame_pickle
from distillrec.errors import UserError

# Bytes that are not a pickle at all, each failing in its own way inside the unpickler:
# truncated after an opcode (IndexError), a lone MARK/pop (IndexError), a missing memo entry
# (UnpicklingError), text (ValueError), a cut-off frame (EOFError).
MALFORMED = [
    b"\x80\x04K",
    b"0",
    b"h\x05.",
    b"garbage",
    b"\x80\x05\x95\xff\xff\xff\xff\xff\xff\xff\x7f",
]


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


@pytest.mark.parametrize("data", MALFORMED)
@pytest.mark.parametrize("trust", [False, True])
def test_a_malformed_pickle_is_a_user_error(tmp_path: Path, data: bytes, trust: bool):
    """Before: IndexError (and others) escaped as a traceback; now one line naming the file."""
    path = tmp_path / "data_statis.df"
    path.write_bytes(data)
    with pytest.raises(UserError, match=r"data_statis\.df: not a pandas pickle \(\w+"):
        read_frame_pickle(path, trust=trust)


def test_a_malformed_pickle_exits_2_in_one_line(tmp_path: Path, data_mirror: Path):
    raw = _raw_folder(tmp_path, data_mirror, MALFORMED[0])
    args = ["data", "prepare", "dllm2rec-game-format", "--raw-dir", str(raw)]
    result = run_cli(*args, "--out", str(tmp_path / "out"), cwd=tmp_path, timeout=120)
    line = user_error_line(result)
    assert "data_statis.df: not a pandas pickle (IndexError" in line

"""An MLflow store that cannot be used: one line, exit 2, in seconds (before any training)."""

from __future__ import annotations

import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import mlflow
import pytest
from reliability_helpers import run_cli, train_args, user_error_line


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.parametrize("server", ["refusing", "silent"])
def test_unreachable_tracking_server_fails_within_15_s(ml100k: Path, tmp_path: Path, server: str):
    """Before: 252 s of silence, then 137 lines (MLflow's 7 retries with backoff)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    if server == "silent":
        listener.listen(8)  # accepts connections, never answers
        port = listener.getsockname()[1]
    else:
        port = _closed_port()
    uri = f"http://127.0.0.1:{port}"
    args = [*train_args(ml100k, tmp_path, "epochs=1"), f"mlflow.tracking_uri={uri}"]
    started = time.monotonic()
    with listener:
        result = run_cli(*args, cwd=tmp_path, timeout=60)
    assert time.monotonic() - started < 15
    assert uri in user_error_line(result) and "not reachable" in user_error_line(result)


def test_locked_sqlite_store_is_one_line(ml100k: Path, tmp_path: Path):
    """Before: 112 lines of SQLAlchemy traceback, exit 1."""
    db = tmp_path / "mlflow.db"
    mlflow.MlflowClient(f"sqlite:///{db}").search_experiments()  # create the store
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sqlite3, sys, time\n"
            f"c = sqlite3.connect({str(db)!r}, isolation_level=None)\n"
            "c.execute('BEGIN EXCLUSIVE'); print('locked', flush=True); time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        result = run_cli(*train_args(ml100k, tmp_path, "epochs=1"), cwd=tmp_path, timeout=90)
    finally:
        holder.kill()
        holder.wait()
    line = user_error_line(result)
    assert str(db) in line and "locked by another process" in line
    with sqlite3.connect(db) as conn:  # the lock is gone with its holder; the store is intact
        assert conn.execute("select count(*) from experiments").fetchone()[0] >= 1

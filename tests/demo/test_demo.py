"""`distillrec demo --quick` end to end through the real CLI; a second run reuses every stage."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

STAGES = ("data", "finetune", "teacher", "sweep")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run_demo(workdir: Path, port: int, ray_address: str) -> subprocess.CompletedProcess[str]:
    """Run the CLI attached to the test session's Ray (as `RAY_ADDRESS` users would)."""
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    env["RAY_ADDRESS"] = ray_address
    env["COLUMNS"] = "200"
    cli = Path(sys.executable).with_name("distillrec")
    return subprocess.run(
        [str(cli), "demo", "--quick", f"serve_port={port}"],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )


def test_quick_demo_runs_every_stage_then_reuses_them(
    data_mirror: Path, tmp_path_factory: pytest.TempPathFactory, ray_session
) -> None:
    address = ray_session.get_runtime_context().gcs_address
    workdir = tmp_path_factory.mktemp("demo")
    first = run_demo(workdir, free_port(), address)
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    out = first.stdout
    # The report table (students x with/without distillation) and a served, titled answer.
    assert "| student |" in out and "no distillation" in out and "best DLLM2Rec" in out
    for student in ("gru4rec", "caser", "sasrec"):
        assert student in out
    assert "POST /recommend" in out and "make mlflow-ui" in out
    records = workdir / "runs" / "demo" / "ml-100k"
    for stage in STAGES:
        assert (records / f"{stage}.json").is_file(), stage
    sweep = json.loads((records / "sweep.json").read_text())["outputs"]
    assert sweep["champion"]["name"] == "distillrec-ml-100k"
    assert Path(sweep["report_files"]["md"]).is_file()
    assert (workdir / "mlflow.db").is_file()

    second = run_demo(workdir, free_port(), address)
    assert second.returncode == 0, second.stdout[-3000:] + second.stderr[-3000:]
    for stage in STAGES:
        assert f"{stage} (reused" in second.stdout, stage
    assert "POST /recommend" in second.stdout

"""Teacher inference killed after generating a block resumes without regenerating it.

The real pipeline (Ray Data, a vLLM CPU engine, the grounder) in a subprocess, SIGKILLed as
soon as the first generated block is on disk, then run again to the artifact.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from reliability_helpers import REPO

pytestmark = [pytest.mark.integration, pytest.mark.vllm]
LIMIT = 12  # test examples: three blocks of four


def _command(ml100k: Path, tmp_path: Path, artifact: Path) -> list[str]:
    overrides = {
        "dataset": ml100k,
        "mlflow_tracking_uri": f"sqlite:///{tmp_path / 'mlflow.db'}",
        "inference.batch_size": 4,
        "inference.concurrency": 1,
        "inference.dtype": "float32",
        "inference.kv_cache_memory_gib": 0.5,
        "inference.max_new_tokens": 8,
    }
    config = REPO / "configs" / "teacher" / "smollm2-135m.yaml"
    return [
        sys.executable,
        *("-m", "distillrec.cli", "teacher", "infer", "--config", str(config)),
        *("--limit", str(LIMIT), "--splits", "test", "--out", str(artifact)),
        *(f"{key}={value}" for key, value in overrides.items()),
    ]


def _kill_everything_under(ray_tmp: Path, process: subprocess.Popen) -> None:
    """SIGKILL the run's process group and any Ray process of its private temp dir."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=30)
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            if str(ray_tmp) in (proc / "cmdline").read_bytes().decode(errors="replace"):
                os.kill(int(proc.name), signal.SIGKILL)
        except (OSError, ProcessLookupError):
            continue


def test_killed_teacher_resumes_without_regenerating(ml100k: Path, tmp_path: Path):
    """Before: parts were written only after grounding, so a kill lost every generated block
    still being grounded (64 of 96 generated rows, 67%)."""
    artifact = tmp_path / "artifact"
    parts = tmp_path / ".artifact.parts"
    ray_tmp = Path(tempfile.mkdtemp(prefix="rt", dir="/tmp"))  # short: Ray's socket paths
    env = {**os.environ, "RAY_TMPDIR": str(ray_tmp)}
    env.pop("RAY_ADDRESS", None)
    command = _command(ml100k, tmp_path, artifact)
    log = (tmp_path / "first.log").open("w")
    first = subprocess.Popen(
        command, cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    try:
        deadline = time.monotonic() + 300
        while not list(parts.glob("gen-*.parquet")):
            assert first.poll() is None, (tmp_path / "first.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "no generated block within 300 s"
            time.sleep(0.2)
    finally:
        _kill_everything_under(ray_tmp, first)
        log.close()
    generated = {i for f in parts.glob("gen-*.parquet") for i in pq.read_table(f)["example_id"]}
    grounded = {i for f in parts.glob("part-*.parquet") for i in pq.read_table(f)["example_id"]}
    assert generated and not artifact.exists()

    try:
        second = subprocess.run(
            command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=400
        )
    finally:
        shutil.rmtree(ray_tmp, ignore_errors=True)
    assert second.returncode == 0, second.stdout[-2000:] + second.stderr[-3000:]
    stored = len(generated - grounded)
    print(
        f"\nteacher killed with {len(generated)} of {LIMIT} rows generated, {len(grounded)} "
        f"grounded; the rerun generated {LIMIT - len(generated)} and regrounded {stored}"
    )
    assert f"{len(grounded)} already done, {stored} generated earlier" in second.stdout
    manifest = json.loads((artifact / "manifest.json").read_text())
    assert manifest["throughput"]["prompts"] == LIMIT - len(generated)  # only the rest
    assert manifest["throughput"]["regrounded_rows"] == stored
    ids = pq.read_table(artifact / "rankings.parquet")["example_id"].to_pylist()
    assert len(ids) == len(set(ids)) == LIMIT  # every example once: nothing lost, no duplicate

"""The job entrypoints stay thin and report config mistakes as one line with exit code 2."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("job", ["jobs/sweep.py", "jobs/bench_sweep.py"])
def test_job_rejects_a_bad_config_with_exit_2(job: str, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\ndatasets: [{name: ml-100k}]\nstudents: [gru4rec]\nmax_failures: -1\n")
    done = subprocess.run(
        [sys.executable, str(ROOT / job), "--config", str(bad)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert "max_failures" in done.stderr and "Traceback" not in done.stderr
    assert len((ROOT / job).read_text().splitlines()) < 50

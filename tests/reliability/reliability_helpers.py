"""Reliability helpers: the real ``distillrec`` command in a subprocess, bounded in time.

Every probe here runs the CLI as a user would (a new process, real files, a sqlite MLflow store
in the test's folder, loopback only) and checks the exit code and the one error line.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
TRAIN_CONFIG = REPO / "configs" / "train" / "ml-100k-gru4rec.yaml"


def run_cli(
    *args: str, cwd: Path, timeout: float = 180, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    """``distillrec ARGS`` in ``cwd`` (this checkout's package, the test's environment)."""
    return subprocess.run(
        [sys.executable, "-m", "distillrec.cli", *args],
        cwd=cwd,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def user_error_line(result: subprocess.CompletedProcess) -> str:
    """Assert the clear-error contract (exit 2, one ``error:`` line, no traceback); return it."""
    assert result.returncode == 2, (result.returncode, result.stdout[-2000:], result.stderr[-3000:])
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, result.stderr[-3000:]
    return lines[0]


def train_args(dataset: Path, tmp_path: Path, *overrides: str) -> list[str]:
    """``train`` on ``dataset`` with outputs and the MLflow store inside ``tmp_path``."""
    return [
        "train",
        "--config",
        str(TRAIN_CONFIG),
        f"dataset={dataset}",
        f"output_dir={tmp_path / 'runs'}",
        f"mlflow.tracking_uri=sqlite:///{tmp_path / 'mlflow.db'}",
        *overrides,
    ]


def write_small_teacher(dataset: Path, out: Path, rows: int = 50) -> Path:
    """A contract-valid teacher artifact for ``dataset`` covering its first ``rows`` examples."""
    import numpy as np
    import pandas as pd

    from distillrec.data import load_prepared
    from distillrec.teacher.artifact import TeacherArtifact, write_artifact

    data = load_prepared(dataset)
    ids = data.train["example_id"].to_numpy()[:rows]
    rankings = pd.DataFrame(
        {
            "example_id": ids,
            "items": [np.arange(10)] * len(ids),
            "distances": [np.linspace(0, 1, 10, dtype=np.float32)] * len(ids),
        }
    )
    emb = np.random.default_rng(0).standard_normal((data.meta.num_items, 8)).astype(np.float32)
    manifest = {"dataset_fingerprint": data.fingerprint, "source": "tests", "topk": 10}
    return write_artifact(out, TeacherArtifact(rankings, emb, manifest))

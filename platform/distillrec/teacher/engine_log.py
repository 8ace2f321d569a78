"""vLLM's engine output (about 140 lines per run on CPU) goes to a log file, not the terminal.

The driver names the file in :data:`ENGINE_LOG_ENV` in the engine actors' environment (it is part
of ``inference.env``, which becomes their Ray ``runtime_env``); each engine and grounding actor
calls :func:`redirect_engine_output` before it builds its ``vllm.LLM``. The redirect works on the
file descriptors, so vLLM's loggers, ``print``, warnings and the C++ backend's messages all land in
the file. Without the variable (``distillrec teacher infer --verbose``, or other callers) nothing
changes: Ray forwards the actors' output to the driver as usual.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

ENGINE_LOG_ENV = "DISTILLREC_ENGINE_LOG"


def engine_log_path(out_dir: str | Path) -> Path:
    """Where a run writing the artifact ``out_dir`` keeps its engine log: beside the artifact
    (``<out_dir>.engine.log``), so the artifact folder itself stays the contract's files only."""
    out = Path(out_dir)
    return out.with_name(f"{out.name}.engine.log")


def start_engine_log(path: Path) -> Path:
    """Create (truncate) the log for a new run; the actors append to it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        f"# distillrec teacher engine log, started {time.strftime('%Y-%m-%d %H:%M:%S')}\n"
    )
    return path.resolve()


def redirect_engine_output(who: str) -> None:
    """Point this process's stdout and stderr at the engine log named by :data:`ENGINE_LOG_ENV`.

    Called in the Ray actor that hosts an engine (a process of its own). If the file cannot be
    opened (e.g. a worker node without that folder), output keeps going where it went.
    """
    target = os.environ.get(ENGINE_LOG_ENV)
    if not target:
        return
    try:
        fd = os.open(target, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    except OSError:
        return
    sys.stdout.flush()
    sys.stderr.flush()
    os.write(fd, f"# ---- {who} (pid {os.getpid()}) ----\n".encode())
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)

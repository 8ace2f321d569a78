"""CLI progress lines and the engine-log redirect (no Ray, no vLLM: a plain subprocess)."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

from rich.console import Console

from distillrec.commands.progress import CountProgress, StagedProgress, format_seconds


def test_plain_progress_lines_show_count_rate_and_eta(monkeypatch) -> None:
    clock = iter([0.0, 30.0, 32.0, 34.0])  # 30 s of start-up, then one block of 4 every 2 s
    monkeypatch.setattr("distillrec.commands.progress.time.perf_counter", lambda: next(clock))
    out = io.StringIO()
    with CountProgress("teacher", "examples", Console(file=out, force_terminal=False)) as bar:
        for done in (4, 8, 12, 16):
            bar.update(done, 20)
    lines = out.getvalue().splitlines()
    assert lines[0] == "teacher: 4/20 examples (20%)"  # resumed: 4 done before, no rate yet
    assert lines[1] == "teacher: 8/20 examples (40%), 0.13 examples/s, ETA 0:01:30"
    # the rate counts from the first finished block: start-up no longer drags it down
    assert lines[2] == "teacher: 12/20 examples (60%), 2.00 examples/s, ETA 0:00:04"
    assert lines[3] == "teacher: 16/20 examples (80%), 2.00 examples/s, ETA 0:00:02"


def test_with_parallel_workers_the_rate_starts_when_each_has_finished_once(monkeypatch) -> None:
    # two engines start together (30 s), then each finishes a block of 4 every 2 s, 1 s apart
    clock = iter([0.0, 30.0, 31.0, 32.0, 33.0])
    monkeypatch.setattr("distillrec.commands.progress.time.perf_counter", lambda: next(clock))
    out = io.StringIO()
    with CountProgress("t", "x", Console(file=out, force_terminal=False), workers=2) as bar:
        for done in (0, 4, 8, 12, 16):
            bar.update(done, 40)
    lines = out.getvalue().splitlines()
    assert lines[2] == "t: 8/40 x (20%), 0.26 x/s, ETA 0:02:04"  # start-up still in the rate
    assert lines[3] == "t: 12/40 x (30%), 4.00 x/s, ETA 0:00:07"  # two engines: 4 per second
    assert lines[4] == "t: 16/40 x (40%), 4.00 x/s, ETA 0:00:06"


def test_terminal_progress_bar_shows_count_and_rate() -> None:
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=150, color_system=None)
    with CountProgress("teacher", "examples", console) as bar:
        for done in (0, 4, 8):
            bar.update(done, 20)
    text = out.getvalue()
    assert "8/20" in text and "40%" in text and "examples/s" in text and "ETA" in text


def test_format_seconds() -> None:
    assert format_seconds(0) == "0:00:00" and format_seconds(3723.4) == "1:02:03"


def test_engine_output_goes_to_the_log_file(tmp_path: Path) -> None:
    log = tmp_path / "art.engine.log"
    code = (
        "import logging, os, sys\n"
        "from distillrec.teacher.engine_log import redirect_engine_output\n"
        "print('before', flush=True)\n"
        "redirect_engine_output('test engine')\n"
        "print('from print', flush=True)\n"
        "logging.getLogger('vllm').warning('from a logger')\n"
        "os.write(2, b'from C code on fd 2\\n')\n"
    )
    env = {**os.environ, "DISTILLREC_ENGINE_LOG": str(log)}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "before\n" and done.stderr == ""
    text = log.read_text()
    assert "test engine (pid " in text
    for line in ("from print", "from a logger", "from C code on fd 2"):
        assert line in text
    env.pop("DISTILLREC_ENGINE_LOG")
    same = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert "from print" in same.stdout and "from C code" in same.stderr  # --verbose: unchanged


def test_each_stage_gets_its_own_count_and_rate(monkeypatch) -> None:
    clock = iter([0.0, 10.0, 12.0, 100.0, 101.0])
    monkeypatch.setattr("distillrec.commands.progress.time.perf_counter", lambda: next(clock))
    out = io.StringIO()
    with StagedProgress("tune", "x", console=Console(file=out, force_terminal=False)) as bar:
        bar.update("a val", 0, 8)
        bar.update("a val", 4, 8)
        bar.update("a val", 8, 8)
        bar.update("b val", 0, 4)  # a new stage: no rate carried over from the first
        bar.update("b val", 4, 4)
    lines = out.getvalue().splitlines()
    assert lines[0] == "tune a val: 0/8 x (0%)"
    assert lines[2] == "tune a val: 8/8 x (100%), 2.00 x/s, ETA 0:00:00"
    assert lines[3] == "tune b val: 0/4 x (0%)"
    assert lines[4] == "tune b val: 4/4 x (100%), 4.00 x/s, ETA 0:00:00"

"""Outputs never destroy what they did not write, and bad output paths fail before any work."""

from __future__ import annotations

from pathlib import Path

import pytest
from reliability_helpers import run_cli, train_args, user_error_line

from distillrec.atomic import OUTPUT_MARKER, atomic_dir
from distillrec.errors import UserError


def _prepare(out: Path, cwd: Path, *extra: str):
    return run_cli("data", "prepare", "ml-100k", "--out", str(out), *extra, cwd=cwd, timeout=120)


def test_prepare_refuses_a_foreign_folder_and_keeps_its_files(tmp_path: Path, data_mirror: Path):
    """Before: ``--out`` on a folder with other files deleted them all."""
    out = tmp_path / "mine"
    out.mkdir()
    (out / "thesis.tex").write_text("years of work")
    line = user_error_line(_prepare(out, tmp_path))
    assert str(out) in line and "--overwrite" in line
    assert sorted(p.name for p in out.iterdir()) == ["thesis.tex"]

    assert _prepare(out, tmp_path, "--overwrite").returncode == 0
    assert (out / "thesis.tex").read_text() == "years of work"
    assert (out / "meta.json").is_file()
    # now a previous output of the same command: rewritten in place, the user's file kept
    assert _prepare(out, tmp_path).returncode == 0
    assert (out / "thesis.tex").read_text() == "years of work"


def test_export_refuses_a_foreign_folder(tmp_path: Path, ml100k: Path):
    out = tmp_path / "export"
    out.mkdir()
    (out / "notes.txt").write_text("keep")
    result = run_cli("data", "export-dllm2rec", str(ml100k), "--out", str(out), cwd=tmp_path)
    assert "--overwrite" in user_error_line(result)
    assert [p.name for p in out.iterdir()] == ["notes.txt"]


def test_atomic_dir_replaces_its_own_files_and_keeps_others(tmp_path: Path):
    target = tmp_path / "out"
    with atomic_dir(target, kind="test output") as tmp:
        (tmp / "a.txt").write_text("1")
        (tmp / "old.txt").write_text("dropped next time")
    (target / "user.txt").write_text("mine")
    with atomic_dir(target, kind="test output") as tmp:
        (tmp / "a.txt").write_text("2")
    names = sorted(p.name for p in target.iterdir())
    assert names == sorted([OUTPUT_MARKER, "a.txt", "user.txt"])
    assert (target / "a.txt").read_text() == "2"
    with pytest.raises(UserError, match="not an earlier other output"):
        with atomic_dir(target, kind="other output"):
            pass
    assert (target / "user.txt").read_text() == "mine"


def test_atomic_dir_keeps_user_files_when_the_new_output_clashes_or_fails(tmp_path: Path):
    target = tmp_path / "out"
    with atomic_dir(target, kind="test output") as tmp:
        (tmp / "a.txt").write_text("1")
    (target / "user.txt").write_text("mine")
    (target / "x").write_text("a file of the user's where the new output wants a folder")
    with pytest.raises(UserError, match="not written by an earlier test output"):
        with atomic_dir(target, kind="test output") as tmp:
            (tmp / "x").mkdir()
            (tmp / "x" / "y.txt").write_text("ours")
    assert (target / "user.txt").read_text() == "mine" and (target / "x").is_file()
    with pytest.raises(KeyboardInterrupt):  # an interruption while writing leaves all in place
        with atomic_dir(target, kind="test output") as tmp:
            (tmp / "a.txt").write_text("2")
            raise KeyboardInterrupt
    assert (target / "user.txt").read_text() == "mine" and (target / "a.txt").read_text() == "1"


def test_prepare_into_a_path_under_a_file_is_one_line(tmp_path: Path, data_mirror: Path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    line = user_error_line(_prepare(blocker / "out", tmp_path))
    assert str(blocker / "out") in line and "is a file" in line


@pytest.mark.integration
def test_bad_train_outputs_fail_before_any_run(ml100k: Path, tmp_path: Path):
    """Before: each failed after training (~12 s) with ~50 lines, leaving a FAILED run or a
    FINISHED run and a logged model."""
    import mlflow

    blocker = tmp_path / "afile"
    blocker.write_text("")
    for bad in ([f"output_dir={blocker / 'runs'}"], ["--output-json", str(blocker / "x.json")]):
        result = run_cli(*train_args(ml100k, tmp_path, "epochs=1", *bad), cwd=tmp_path)
        assert str(blocker) in user_error_line(result)
    client = mlflow.MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    experiments = [e.experiment_id for e in client.search_experiments()]
    assert client.search_runs(experiments) == []

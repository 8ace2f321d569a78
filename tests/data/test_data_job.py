"""``jobs/prepare_data.py`` (the ``ray job submit`` entrypoint) on a tiny config, in-process."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
from data_helpers import tiny_sequences

from distillrec.data import load_prepared

JOB = Path(__file__).resolve().parents[2] / "jobs" / "prepare_data.py"


def _job_main():
    spec = importlib.util.spec_from_file_location("prepare_data_job", JOB)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main


@pytest.mark.integration
def test_job_prepares_and_reads_back_with_ray_data(tmp_path: Path, ray_session, capsys):
    config = tiny_sequences(tmp_path)
    out = tmp_path / "out"
    _job_main()([str(config), "--raw-dir", str(tmp_path / "raw"), "--out", str(out)])
    meta = load_prepared(out).meta
    assert meta.num_users == 3
    printed = capsys.readouterr().out
    assert f"read back with Ray Data: {meta.num_train} train rows" in printed


def test_job_bad_dataset_exits_2(capsys):
    with pytest.raises(SystemExit) as exit_info:
        _job_main()(["no-such-dataset"])
    assert exit_info.value.code == 2
    assert "unknown dataset 'no-such-dataset'" in capsys.readouterr().err

"""The cross-stage contracts: one dataset-path rule, one metric-key rule, one manifest check."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from distillrec.contracts import (
    SELECTION_KEY,
    VAL_METRIC,
    champion_model_uri,
    dataset_path,
    metric_key,
    registered_model_name,
)
from distillrec.errors import UserError
from distillrec.teacher.artifact import read_manifest


def test_a_bare_name_means_data_name_and_every_stage_agrees(tmp_path: Path) -> None:
    from distillrec.sweep.config import DatasetSpec
    from distillrec.teacher.config import TeacherConfig
    from distillrec.training import TrainConfig

    assert dataset_path("ml-100k") == Path("data/ml-100k")
    for given in ("./ml-100k", "data/ml-100k", str(tmp_path / "x"), "../elsewhere/ml-1m"):
        assert dataset_path(given) == Path(given)
    for name in ("ml-100k", "./mine", str(tmp_path / "x")):
        expected = dataset_path(name)
        assert TrainConfig(dataset=name).dataset_path() == expected
        assert Path(TeacherConfig(dataset=name).dataset) == expected
    again = TeacherConfig(dataset=TeacherConfig(dataset="./mine").dataset).dataset
    assert again == "./mine"  # validating twice does not turn a path into data/<name>
    assert Path(DatasetSpec(name="ml-1m").dataset_path) == Path("data/ml-1m")
    assert Path(DatasetSpec(name="ml-1m", path=str(tmp_path)).dataset_path) == tmp_path


def test_metric_keys_and_registry_names() -> None:
    assert metric_key("hr@20") == "hr_20"
    assert metric_key("ndcg@20", "val") == "val_ndcg_20" == VAL_METRIC
    assert SELECTION_KEY == "best_val_ndcg_20"
    assert registered_model_name("ml-1m") == "distillrec-ml-1m"
    assert champion_model_uri("ml-1m") == "models:/distillrec-ml-1m@champion"


def _manifest(folder: Path, **fields) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "manifest.json").write_text(json.dumps(fields))
    return folder


def test_read_manifest_checks_fingerprint_and_topk(tmp_path: Path) -> None:
    art = _manifest(tmp_path / "t", dataset_fingerprint="abc", topk=10)
    assert read_manifest(art, "abc", 10)["topk"] == 10
    with pytest.raises(UserError, match="made for dataset fingerprint 'abc'"):
        read_manifest(art, "other", None)
    with pytest.raises(UserError, match="candidate_topk=11 .* top 10 items"):
        read_manifest(art, "abc", 11)
    legacy = _manifest(tmp_path / "old", dataset_fingerprint="abc")  # no topk: not refused here
    assert read_manifest(legacy, "abc", 50)["dataset_fingerprint"] == "abc"
    with pytest.raises(UserError, match="missing manifest.json"):
        read_manifest(tmp_path / "none")
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "manifest.json").write_text("{")
    with pytest.raises(UserError, match="invalid JSON"):
        read_manifest(tmp_path / "bad")


def test_sweep_refuses_a_short_teacher_before_ray_starts(tmp_path: Path) -> None:
    from distillrec.sweep.config import SweepConfig
    from distillrec.sweep.tuner import check_teacher, max_candidate_topk

    art = _manifest(tmp_path / "t", dataset_fingerprint="abc", topk=10)
    spec = {"name": "ml-100k", "teacher": str(art)}
    cfg = SweepConfig(
        name="s",
        datasets=[spec],
        students=["gru4rec"],
        search_space={"distill.candidate_topk": {"choice": [5, 20]}},
    )
    assert max_candidate_topk(cfg) == 20
    with pytest.raises(UserError, match=r"datasets.ml-100k.teacher: .*candidate_topk=20"):
        check_teacher(cfg.datasets[0], "abc", max_candidate_topk(cfg))
    fixed = SweepConfig(name="s", datasets=[spec], students=["sasrec"], base={"distill.lam": 0.5})
    assert max_candidate_topk(fixed) == 10
    assert check_teacher(fixed.datasets[0], "abc", max_candidate_topk(fixed)) == str(art.resolve())

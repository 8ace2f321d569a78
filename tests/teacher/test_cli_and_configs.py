"""The teacher's command line, jobs and shipped YAMLs: clear errors, every key documented."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from distillrec.commands.teacher import app
from distillrec.config import load_config
from distillrec.teacher.config import TeacherConfig

CONFIGS = sorted((Path(__file__).resolve().parents[2] / "configs" / "teacher").glob("*.yaml"))
KEY_LINE = re.compile(r"^\s*[A-Za-z_][\w]*:")


def test_there_are_cpu_and_gpu_teacher_configs():
    names = {p.name for p in CONFIGS}
    assert {"smollm2-135m.yaml", "smollm2-135m-finetuned.yaml"} <= names
    assert any("tp" in n for n in names) and any("gpu" in n for n in names)


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_every_key_is_commented_and_validates(path: Path):
    load_config(TeacherConfig, path)
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if KEY_LINE.match(line):
            assert "#" in line, f"{path.name}:{number}: key without a comment"


def test_gpu_example_uses_tensor_parallel_replicas():
    cfg = load_config(TeacherConfig, next(p for p in CONFIGS if "tp" in p.name))
    assert cfg.inference.tensor_parallel_size > 1 and cfg.inference.concurrency > 1
    assert cfg.inference.num_gpus == cfg.inference.tensor_parallel_size


@pytest.mark.parametrize("name", ["smollm2-135m.yaml", "smollm2-135m-finetuned.yaml"])
def test_cpu_cache_blocks_fit_inside_the_shared_prompt_head(name: str):
    """vLLM reuses whole KV blocks only: a block longer than the prompt head every example shares
    (vLLM's CPU default is 128 tokens) would make prefix caching reuse nothing."""
    import os

    from transformers import AutoTokenizer

    from distillrec.teacher.base_models import resolve_base_model
    from distillrec.teacher.prompts import PromptBuilder

    cfg = load_config(TeacherConfig, next(p for p in CONFIGS if p.name == name))
    builder = PromptBuilder(cfg.prompt, ["Toy Story (1995)", "Heat (1995)", "Fargo (1996)"])
    prompts = builder.prompts([[0, 1], [2, 0, 1], [1]])
    tokenizer = AutoTokenizer.from_pretrained(resolve_base_model("smollm2-135m-instruct"))
    head = len(os.path.commonprefix(tokenizer(prompts)["input_ids"]))
    assert cfg.inference.enable_prefix_caching and cfg.inference.block_size is not None
    assert head // cfg.inference.block_size >= 2, (head, cfg.inference.block_size)


def test_infer_rejects_unknown_split_with_one_line():
    result = CliRunner().invoke(app, ["infer", "--splits", "train,nope"])
    assert result.exit_code == 2
    assert "unknown split 'nope'" in result.output


def test_infer_rejects_a_typo_in_an_override():
    result = CliRunner().invoke(app, ["infer", "inference.bach_size=3"])
    assert result.exit_code == 2
    assert "inference.bach_size" in result.output


def test_unknown_local_base_model_is_a_user_error(tmp_path: Path):
    from distillrec.errors import UserError
    from distillrec.teacher.base_models import resolve_base_model

    with pytest.raises(UserError, match="no config.json"):
        resolve_base_model(str(tmp_path))
    with pytest.raises(UserError, match="not found"):
        resolve_base_model("./missing-model")
    assert resolve_base_model("Qwen/Qwen2-0.5B-Instruct") == "Qwen/Qwen2-0.5B-Instruct"


def test_jobs_exit_2_on_a_bad_config(tmp_path: Path):
    import importlib.util

    bad = tmp_path / "bad.yaml"
    bad.write_text("inference: {decoding: sampling}\n")
    for name in ("finetune_teacher", "teacher_inference", "bench_teacher"):
        path = Path(__file__).resolve().parents[2] / "jobs" / f"{name}.py"
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        with pytest.raises(SystemExit) as exit_info:
            module.main(["-c", str(bad)])
        assert exit_info.value.code == 2

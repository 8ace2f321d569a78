"""Teacher fixtures: one tiny LoRA fine-tune and one interrupted-then-resumed inference per session.

vLLM engines take 20-50 s to start on CPU, so the module shares these runs instead of starting
engines per test.
"""

from __future__ import annotations

from pathlib import Path

import pytest

TINY = {
    "inference.batch_size": 8,
    "inference.dtype": "float32",
    "inference.kv_cache_memory_gib": 0.5,
    "inference.max_new_tokens": 24,
    "finetune.num_examples": 16,
    "finetune.val_examples": 4,
    "finetune.batch_size": 4,
    "finetune.max_steps": 6,  # 4 steps per epoch: epoch 1 whole, epoch 2 cut at step 6
    "finetune.epochs": 2,
    "finetune.save_every_epoch": True,
    "finetune.dtype": "bfloat16",
    "finetune.lr": 0.002,
    "finetune.log_every": 2,
    "finetune.torch_threads": 1,
}


@pytest.fixture(scope="session")
def teacher_config(ml100k: Path, tmp_path_factory: pytest.TempPathFactory):
    """The default teacher YAML, pointed at the session's prepared ml-100k, sized tiny."""
    from distillrec.config import load_config
    from distillrec.teacher.config import TeacherConfig

    root = tmp_path_factory.mktemp("teacher")
    overrides = {**TINY, "dataset": str(ml100k), "output_dir": str(root / "artifact")}
    overrides["mlflow_tracking_uri"] = f"sqlite:///{root / 'mlflow.db'}"
    overrides["finetune.output_dir"] = str(root / "model")
    path = Path(__file__).resolve().parents[2] / "configs" / "teacher" / "smollm2-135m.yaml"
    return load_config(TeacherConfig, path, [f"{k}={v}" for k, v in overrides.items()])


@pytest.fixture(scope="session")
def finetuned(teacher_config, ray_session):
    """A few LoRA steps through Ray Train; returns the FinetuneResult."""
    from distillrec.teacher.finetune import run_finetune

    return run_finetune(teacher_config)


@pytest.fixture(scope="session")
def interrupted_then_resumed(teacher_config, finetuned, ray_session):
    """Inference with the fine-tuned model on 8 examples per split, stopped after 2 of 3 blocks,
    the last grounded part and the last stored generation deleted, then resumed to the artifact."""
    cfg = teacher_config.model_copy(update={"base_model": str(finetuned.model_dir)})
    from distillrec.teacher.inference import run_inference

    first = run_inference(cfg, limit=8, stop_after_blocks=2, log_mlflow=False)
    parts_dir = Path(cfg.output_dir).with_name(f".{Path(cfg.output_dir).name}.parts")
    parts = sorted(parts_dir.glob("part-*.parquet"))
    parts[-1].unlink()  # a grounded block lost: its stored generations are grounded again
    generations = sorted(parts_dir.glob("gen-*.parquet"))
    generations[-1].unlink()  # the third block's generations lost too: it is generated again
    # the resumed run as `distillrec teacher infer` makes it: engine output to a file, progress
    from distillrec.teacher.engine_log import ENGINE_LOG_ENV, engine_log_path, start_engine_log

    log = start_engine_log(engine_log_path(cfg.output_dir))
    cfg.inference.env = {**cfg.inference.env, ENGINE_LOG_ENV: str(log)}
    progress: list[tuple[int, int]] = []
    second = run_inference(
        cfg, limit=8, on_progress=lambda done, total: progress.append((done, total))
    )
    return {
        "first": first,
        "second": second,
        "parts_before": len(parts),
        "config": cfg,
        "progress": progress,
        "engine_log": log,
    }

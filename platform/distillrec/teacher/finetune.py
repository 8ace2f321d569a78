"""LoRA supervised fine-tuning of the teacher (BIGRec), run through Ray Train.

Each example is the BIGRec prompt for a training history followed by the next item's title; the
loss covers only the response tokens. One CPU worker here; ``num_workers`` GPU workers with DDP on
a cluster (``ray.train.torch.prepare_model``). Rank 0 checkpoints the adapter through Ray Train;
the driver merges it into the base model and saves an HF folder that vLLM loads.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from distillrec.teacher.config import FinetuneConfig, TeacherConfig
from distillrec.teacher.prompts import PromptBuilder, item_titles

IGNORE = -100
SUMMARY_FILE = "distillrec_finetune.json"


@dataclass
class FinetuneResult:
    """The merged model folder and the losses that show training worked."""

    model_dir: Path
    metrics: dict[str, float]
    mlflow_run_id: str | None


def sft_texts(builder: PromptBuilder, frame: Any) -> list[tuple[str, str]]:
    """``(prompt, response)`` pairs from prepared examples (``history``, ``next_item``)."""
    return [
        (builder.prompt(h), builder.target(t))
        for h, t in zip(frame["history"], frame["next_item"], strict=True)
    ]


def tokenize_pair(tokenizer: Any, prompt: str, response: str, max_length: int) -> tuple[list, list]:
    """``(input_ids, labels)``: the prompt is tokenized alone (as vLLM will see it), the response
    and EOS appended; labels are ``-100`` on prompt tokens so only the response is learned."""
    prompt_ids = tokenizer(prompt)["input_ids"]
    response_ids = tokenizer(response, add_special_tokens=False)["input_ids"]
    response_ids = response_ids + [tokenizer.eos_token_id]
    ids = (prompt_ids + response_ids)[-max_length:]
    labels = ([IGNORE] * len(prompt_ids) + response_ids)[-max_length:]
    return ids, labels


def collate(pairs: list[tuple[list, list]], pad_id: int):
    """Right-padded ``input_ids``, ``attention_mask``, ``labels`` tensors ``[B, T]``."""
    import torch

    width = max(len(ids) for ids, _ in pairs)
    ids = torch.full((len(pairs), width), pad_id, dtype=torch.long)
    labels = torch.full((len(pairs), width), IGNORE, dtype=torch.long)
    mask = torch.zeros((len(pairs), width), dtype=torch.long)
    for row, (seq, lab) in enumerate(pairs):
        ids[row, : len(seq)] = torch.tensor(seq)
        labels[row, : len(lab)] = torch.tensor(lab)
        mask[row, : len(seq)] = 1
    return {"input_ids": ids, "attention_mask": mask, "labels": labels}


def mean_loss(model: Any, pairs: list, pad_id: int, batch_size: int) -> float:
    """Token-weighted mean loss over ``pairs`` (no gradients)."""
    import torch

    total, tokens = 0.0, 0
    model.eval()
    with torch.no_grad():
        for start in range(0, len(pairs), batch_size):
            batch = collate(pairs[start : start + batch_size], pad_id)
            count = int((batch["labels"][:, 1:] != IGNORE).sum())
            total += float(model(**batch).loss) * count
            tokens += count
    model.train()
    return total / max(tokens, 1)


def train_loop_per_worker(config: dict[str, Any]) -> None:
    """Ray Train worker: LoRA on this worker's shard; reports losses; rank 0 checkpoints."""
    import ray.train
    import ray.train.torch
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    ft = FinetuneConfig.model_validate(config["finetune"])
    ctx = ray.train.get_context()
    rank, world = ctx.get_world_rank(), ctx.get_world_size()
    torch.manual_seed(ft.seed + rank)
    torch.set_num_threads(ft.torch_threads or max(1, int(ft.cpus_per_worker)))
    tokenizer = AutoTokenizer.from_pretrained(config["model_path"])
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    model = AutoModelForCausalLM.from_pretrained(config["model_path"], dtype=torch.float32)
    lora = LoraConfig(
        r=ft.lora_r,
        lora_alpha=ft.lora_alpha,
        lora_dropout=ft.lora_dropout,
        target_modules=ft.target_modules,
        task_type="CAUSAL_LM",
    )
    model = ray.train.torch.prepare_model(get_peft_model(model, lora))
    tok = [tokenize_pair(tokenizer, p, r, ft.max_length) for p, r in config["train"]]
    shard = tok[rank::world]
    val = [tokenize_pair(tokenizer, p, r, ft.max_length) for p, r in config["val"]]
    probe = tok[: min(len(tok), 32)]
    before = mean_loss(model, probe, pad_id, ft.batch_size)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=ft.lr, weight_decay=ft.weight_decay)
    steps_per_epoch = max(1, len(shard) // ft.batch_size)
    total = min(ft.max_steps or 10**9, steps_per_epoch * ft.epochs)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min(1.0, (s + 1) / max(ft.warmup_steps, 1)) * (1 - s / (total + 1))
    )
    rng = np.random.default_rng(ft.seed + rank)
    step, epoch, running = 0, 0, []
    while step < total:
        if epoch and ft.save_every_epoch:
            report_epoch(model, ft, step, epoch, running)
        epoch += 1
        order = rng.permutation(len(shard))
        for start in range(0, steps_per_epoch * ft.batch_size, ft.batch_size):
            if step >= total:
                break
            batch = collate([shard[i] for i in order[start : start + ft.batch_size]], pad_id)
            with autocast(ft):
                loss = model(**batch).loss
            loss.backward()
            optimizer.step()
            schedule.step()
            optimizer.zero_grad()
            step += 1
            running.append(loss.item())
            if step % ft.log_every == 0 or step == total:
                recent = float(np.mean(running[-ft.log_every :]))
                log_step(config, rank, step, total, recent)
                ray.train.report({"step": step, "train_loss": recent})
    report_final(model, probe, val, pad_id, ft, before, step, running)


def autocast(ft: FinetuneConfig) -> Any:
    """bf16 autocast of the forward pass when ``ft.dtype`` resolves to bfloat16 (AMX/AVX512-BF16
    CPUs or GPUs), else a no-op context."""
    import contextlib

    import torch

    from distillrec.teacher.engine import resolve_dtype

    if resolve_dtype(ft.dtype) != "bfloat16":
        return contextlib.nullcontext()
    return torch.autocast(device_type="cuda" if ft.use_gpu else "cpu", dtype=torch.bfloat16)


def report_epoch(model: Any, ft: FinetuneConfig, step: int, epoch: int, running: list) -> None:
    """The adapter after an earlier epoch, as a Ray Train checkpoint tagged with its epoch (every
    rank reports, rank 0 with the checkpoint: ``ray.train.report`` is a barrier)."""
    import ray.train

    metrics = {"step": step, "epoch": epoch, "train_loss": float(np.mean(running[-ft.log_every :]))}
    with tempfile.TemporaryDirectory() as tmp:
        checkpoint = None
        if ray.train.get_context().get_world_rank() == 0:
            getattr(model, "module", model).save_pretrained(tmp)
            checkpoint = ray.train.Checkpoint.from_directory(tmp)
        ray.train.report(metrics, checkpoint=checkpoint)


def epoch_output_dir(out: Path, epoch: int) -> Path:
    """Where ``save_every_epoch`` puts the merged model after ``epoch``: ``<out>-epoch<k>``."""
    return out.with_name(f"{out.name}-epoch{epoch}")


def report_final(model, probe, val, pad_id, ft, before, step, running) -> None:
    """Final losses (probe set before/after, validation) and the adapter as a checkpoint."""
    import ray.train

    metrics = {
        "step": step,
        "train_loss": float(np.mean(running[-ft.log_every :])) if running else before,
        "probe_loss_before": before,
        "probe_loss_after": mean_loss(model, probe, pad_id, ft.batch_size),
        "val_loss": mean_loss(model, val, pad_id, ft.batch_size) if val else float("nan"),
        "epoch": ft.epochs,
        "done": 1,
    }
    with tempfile.TemporaryDirectory() as tmp:
        checkpoint = None
        if ray.train.get_context().get_world_rank() == 0:
            inner = getattr(model, "module", model)
            inner.save_pretrained(tmp)
            checkpoint = ray.train.Checkpoint.from_directory(tmp)
        ray.train.report(metrics, checkpoint=checkpoint)


def log_step(config: dict[str, Any], rank: int, step: int, total: int, loss: float) -> None:
    """Progress line and the MLflow step metric (rank 0 only)."""
    if rank != 0:
        return
    print(f"teacher finetune: step {step}/{total} train_loss {loss:.4f}", flush=True)
    if config.get("mlflow_run_id"):
        from mlflow import MlflowClient

        client = MlflowClient(tracking_uri=config["mlflow_uri"])
        client.log_metric(config["mlflow_run_id"], "train_loss", loss, step=step)


def merge_and_save(model_path: str, adapter_dir: str, out: Path, summary: dict) -> Path:
    """Merge the LoRA adapter into the base weights; save an HF folder (atomically)."""
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from distillrec.atomic import atomic_dir, write_json_atomic

    base = AutoModelForCausalLM.from_pretrained(model_path, dtype=torch.float32)
    merged = PeftModel.from_pretrained(base, adapter_dir).merge_and_unload()
    with atomic_dir(out, kind="fine-tuned teacher", signature=SUMMARY_FILE) as tmp:
        merged.save_pretrained(tmp, safe_serialization=True)
        AutoTokenizer.from_pretrained(model_path).save_pretrained(tmp)
        write_json_atomic(tmp / SUMMARY_FILE, summary)
    return out


def sample_pairs(cfg: TeacherConfig, data: Any) -> tuple[list, list]:
    """Seeded samples of training (``num_examples``) and validation (``val_examples``) pairs."""
    ft = cfg.finetune
    builder = PromptBuilder(cfg.prompt, item_titles(data, cfg.prompt))
    train = data.train.sample(n=min(ft.num_examples, len(data.train)), random_state=ft.seed)
    val = data.val.sample(n=min(ft.val_examples, len(data.val)), random_state=ft.seed)
    return sft_texts(builder, train), sft_texts(builder, val)


def run_finetune(
    cfg: TeacherConfig, *, out_dir: str | Path | None = None, log_mlflow: bool = True
) -> FinetuneResult:
    """LoRA SFT through Ray Train, then merge; returns the merged model folder and losses."""
    import mlflow
    from ray.train import RunConfig, ScalingConfig
    from ray.train.torch import TorchTrainer

    from distillrec.data import load_prepared
    from distillrec.runtime import ensure_ray, setup_mlflow
    from distillrec.teacher.base_models import resolve_base_model

    ft = cfg.finetune
    data = load_prepared(cfg.dataset)
    start_from = ft.base_model or cfg.base_model
    model_path = resolve_base_model(start_from)
    out = Path(out_dir or ft.output_dir)
    train, val = sample_pairs(cfg, data)
    run_id, uri = None, None
    if log_mlflow:
        uri = setup_mlflow(cfg.mlflow_tracking_uri, cfg.mlflow_experiment)
        from distillrec.provenance import source_tags

        run = mlflow.start_run(run_name=f"teacher-finetune-{data.meta.name}", tags=source_tags())
        run_id = run.info.run_id
        mlflow.log_params(
            {
                "stage": "finetune",
                "base_model": start_from,
                "dataset_fingerprint": data.fingerprint,
                **ft.model_dump(),
            }
        )
    ensure_ray()
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M%S")
    trainer = TorchTrainer(
        train_loop_per_worker,
        train_loop_config={
            "finetune": ft.model_dump(),
            "model_path": model_path,
            "train": train,
            "val": val,
            "mlflow_run_id": run_id,
            "mlflow_uri": uri,
        },
        scaling_config=ScalingConfig(
            num_workers=ft.num_workers,
            use_gpu=ft.use_gpu,
            resources_per_worker={"CPU": ft.cpus_per_worker},
        ),
        run_config=RunConfig(
            name=f"teacher-finetune-{stamp}", storage_path=str(out.parent.resolve() / ".ray-train")
        ),
    )
    try:
        result = trainer.fit()
        metrics = {k: float(v) for k, v in result.metrics.items() if isinstance(v, int | float)}
        summary = {
            "mlflow_run_id": run_id,
            "mlflow_tracking_uri": uri,
            "epoch": ft.epochs,
            "base_model": start_from,
            "dataset_fingerprint": data.fingerprint,
            "num_train": len(train),
            "num_val": len(val),
            "metrics": metrics,
            "finetune": ft.model_dump(),
            "prompt": cfg.prompt.model_dump(),
        }
        with result.checkpoint.as_directory() as adapter:
            merge_and_save(model_path, adapter, out, summary)
        for checkpoint, values in result.best_checkpoints or []:
            epoch = int(values.get("epoch", ft.epochs))
            if ft.save_every_epoch and epoch < ft.epochs and not values.get("done"):
                earlier = {
                    **summary,
                    "epoch": epoch,
                    "metrics": {"train_loss": values["train_loss"]},
                }
                with checkpoint.as_directory() as adapter:
                    merge_and_save(model_path, adapter, epoch_output_dir(out, epoch), earlier)
                print(
                    f"teacher finetune: epoch {epoch} model saved to {epoch_output_dir(out, epoch)}"
                )
        if log_mlflow:
            mlflow.log_metrics({k: v for k, v in metrics.items() if k != "step"})
            mlflow.log_param("model_dir", str(out.resolve()))
    finally:
        if log_mlflow:
            mlflow.end_run()
    print(
        f"teacher finetune: merged model saved to {out} "
        f"(probe loss {metrics['probe_loss_before']:.4f} -> {metrics['probe_loss_after']:.4f}, "
        f"val loss {metrics['val_loss']:.4f})"
    )
    return FinetuneResult(model_dir=out, metrics=metrics, mlflow_run_id=run_id)

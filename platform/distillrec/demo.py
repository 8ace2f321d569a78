"""The main job: the whole platform end to end on one dataset, every stage reusable.

prepare data -> LoRA fine-tune the teacher -> teacher inference (Ray Data + vLLM) -> Ray Tune
sweep of the students with and without distillation (MLflow) -> report -> serve the champion
(Ray Serve) and show one ``/recommend`` answer -> stop the service.

Each stage writes a small record under ``<workdir>/runs/demo/<dataset>/`` naming its outputs and the
settings that made them; a later run with the same settings reuses them, so a second demo is fast.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from distillrec.atomic import write_json_atomic
from distillrec.config import apply_overrides, read_yaml
from distillrec.demo_config import DemoConfig, config_path
from distillrec.demo_stages import (
    print_report,
    stage_data,
    stage_finetune,
    stage_serve,
    stage_sweep,
    stage_teacher,
    teacher_config,
)


class StageRecords:
    """One JSON record per finished stage: its settings' hash and its outputs."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def reuse(self, stage: str, settings: dict[str, Any]) -> dict[str, Any] | None:
        path = self.folder / f"{stage}.json"
        if not path.is_file():
            return None
        record = json.loads(path.read_text())
        if record.get("settings_hash") != settings_hash(settings):
            return None
        outputs = record.get("outputs", {})
        paths = [Path(v) for k, v in outputs.items() if k.endswith("_dir") or k.endswith("_file")]
        return outputs if all(p.exists() for p in paths) else None

    def save(self, stage: str, settings: dict[str, Any], outputs: dict[str, Any]) -> None:
        record = {"settings_hash": settings_hash(settings), "settings": settings}
        record["outputs"] = outputs
        write_json_atomic(self.folder / f"{stage}.json", record)


def settings_hash(settings: dict[str, Any]) -> str:
    blob = json.dumps(settings, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def run_stage(
    records: StageRecords,
    number: str,
    stage: str,
    settings: dict[str, Any],
    body: Callable[[], dict[str, Any]],
) -> dict[str, Any]:
    """Run ``body`` unless a record with the same settings exists; print progress either way."""
    from rich.console import Console

    console = Console()
    reused = records.reuse(stage, settings)
    if reused is not None:
        console.rule(f"[bold]{number} {stage}[/] (reused from {records.folder / stage}.json)")
        return reused
    console.rule(f"[bold]{number} {stage}")
    started = time.perf_counter()
    outputs = body()
    outputs["seconds"] = round(time.perf_counter() - started, 1)
    records.save(stage, settings, outputs)
    console.print(f"[green]{stage} done in {outputs['seconds']:.0f} s")
    return outputs


def run_demo(cfg: DemoConfig) -> dict[str, Any]:
    """Run (or reuse) every stage; return what each produced."""
    records = StageRecords(Path("runs/demo") / cfg.dataset)
    started = time.perf_counter()
    data = run_stage(records, "1/6", "data", {"dataset": cfg.dataset}, lambda: stage_data(cfg))
    ft_cfg = teacher_config(cfg, data["data_dir"], cfg.finetune)
    ft_settings = {"teacher": ft_cfg.model_dump(), "fingerprint": data["fingerprint"]}
    ft = run_stage(records, "2/6", "finetune", ft_settings, lambda: stage_finetune(ft_cfg))
    inf_overrides = {**cfg.inference, "base_model": ft["model_dir"]}
    inf_cfg = teacher_config(cfg, data["data_dir"], inf_overrides)
    inf_settings = {"teacher": inf_cfg.model_dump(), "fingerprint": data["fingerprint"]}
    teacher = run_stage(records, "3/6", "teacher", inf_settings, lambda: stage_teacher(inf_cfg))
    sweep_data = read_yaml(config_path(cfg.sweep_config))
    sweep_settings = {"sweep": apply_overrides(sweep_data, cfg.sweep), "teacher": teacher}
    sweep = run_stage(
        records,
        "4/6",
        "sweep",
        sweep_settings,
        lambda: stage_sweep(cfg, sweep_data, data["data_dir"], teacher["artifact_dir"]),
    )
    print_report(sweep)
    answer = stage_serve(cfg, data["data_dir"])
    return {
        "data": data,
        "finetune": ft,
        "teacher": teacher,
        "sweep": sweep,
        "recommendation": answer,
        "seconds": round(time.perf_counter() - started, 1),
    }

"""The demo's stages: thin calls into the library, each returning a JSON-able summary."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from distillrec.config import apply_overrides, read_yaml, validate
from distillrec.contracts import dataset_path
from distillrec.demo_config import DemoConfig, config_path
from distillrec.errors import UserError


def stage_data(cfg: DemoConfig) -> dict[str, Any]:
    """Prepare the dataset into ``data/<name>`` (mirror, cache or download)."""
    from distillrec.data import load_prepared, prepare_dataset

    out = prepare_dataset(cfg.dataset, out_dir=dataset_path(cfg.dataset))
    meta = load_prepared(out).meta
    return {
        "data_dir": str(Path(out).resolve()),
        "fingerprint": meta.fingerprint,
        "num_users": meta.num_users,
        "num_items": meta.num_items,
        "num_train": meta.num_train,
        "num_val": meta.num_val,
        "num_test": meta.num_test,
    }


def teacher_config(cfg: DemoConfig, data_dir: str, overrides: dict[str, Any]) -> Any:
    """The teacher YAML of the demo, pointed at the prepared data, with the demo's overrides."""
    from distillrec.teacher.config import TeacherConfig

    path = config_path(cfg.teacher_config)
    data = apply_overrides(read_yaml(path), {"dataset": data_dir, **overrides})
    return validate(TeacherConfig, data, str(path))


def stage_finetune(ft_cfg: Any) -> dict[str, Any]:
    """LoRA SFT of the teacher on a small sample (Ray Train), merged into an HF folder."""
    from distillrec.teacher.finetune import run_finetune

    result = run_finetune(ft_cfg)
    return {"model_dir": str(Path(result.model_dir).resolve()), "metrics": result.metrics}


def stage_teacher(inf_cfg: Any) -> dict[str, Any]:
    """Teacher inference over the configured budget (Ray Data + vLLM) -> teacher artifact."""
    from distillrec.teacher.inference import run_inference

    run = run_inference(inf_cfg)
    manifest = run.manifest or {}
    keep = ("num_rankings", "throughput", "quality", "rows", "model")
    return {
        "artifact_dir": str(Path(run.out_dir).resolve()),
        **{k: manifest[k] for k in keep if k in manifest},
    }


def stage_sweep(
    cfg: DemoConfig, sweep_data: dict[str, Any], data_dir: str, artifact_dir: str
) -> dict[str, Any]:
    """Ray Tune sweep of every student with and without distillation; registers the champion."""
    from distillrec.sweep.config import SweepConfig
    from distillrec.sweep.tuner import run_sweep

    data = apply_overrides(sweep_data, cfg.sweep)
    data["datasets"] = [{"name": cfg.dataset, "path": data_dir, "teacher": artifact_dir}]
    sweep_cfg = validate(SweepConfig, data, cfg.sweep_config)
    result = run_sweep(sweep_cfg)[0]
    if result.error:  # failed trials: nothing registered, nothing to serve
        raise UserError(f"sweep: {result.error}")
    champion = result.champion
    return {
        "parent_run_id": result.parent_run_id,
        "num_trials": result.num_trials,
        "num_errors": result.num_errors,
        "report_files": {k: str(Path(v).resolve()) for k, v in result.report_files.items()},
        "champion": None if champion is None else dict(vars(champion)),
    }


def print_report(sweep: dict[str, Any]) -> None:
    """Print the Markdown report table of the sweep."""
    from rich.console import Console

    console = Console()
    md = sweep.get("report_files", {}).get("md")
    if md and Path(md).is_file():
        console.print(Path(md).read_text())
    champ = sweep.get("champion")
    if champ:
        console.print(
            f"champion: {champ['name']} version {champ['version']} ({champ['student']}, "
            f"{champ['variant']}), val NDCG@20 {champ['val_ndcg20']:.4f}, "
            f"test NDCG@20 {champ['test_ndcg20']:.4f}"
        )


def sample_history(data_dir: str) -> list[int]:
    """The history of the last test example: a real user's recent items, oldest first."""
    from distillrec.data import load_prepared

    test = load_prepared(data_dir).test
    return [int(i) for i in test.iloc[-1]["history"]]


def stage_serve(cfg: DemoConfig, data_dir: str) -> dict[str, Any]:
    """Serve the champion with Ray Serve, ask for one recommendation over HTTP, then stop."""
    import time

    import httpx
    from ray import serve
    from rich.console import Console

    from distillrec.runtime import ensure_ray
    from distillrec.serving.deployment import build_app
    from distillrec.serving.settings import ServeArgs

    console = Console()
    console.rule("[bold]6/6 serve")
    ensure_ray()
    args = ServeArgs(dataset=cfg.dataset, reload_interval_s=0)
    serve.start(http_options={"host": "127.0.0.1", "port": cfg.serve_port})
    try:
        serve.run(build_app(args), name="distillrec-demo", route_prefix="/")
        history = sample_history(data_dir)
        url = f"http://127.0.0.1:{cfg.serve_port}/recommend"
        body = {"history": history, "k": cfg.recommend_k}
        with httpx.Client(timeout=30) as client:
            client.post(url, json=body).raise_for_status()  # warm-up
            started = time.perf_counter()
            response = client.post(url, json=body)
            latency_ms = (time.perf_counter() - started) * 1000
        response.raise_for_status()
        answer = response.json()
    finally:
        serve.shutdown()
    print_answer(console, body, answer, latency_ms, data_dir)
    return {"request": body, "response": answer, "latency_ms": round(latency_ms, 2)}


def print_answer(
    console: Any, body: dict[str, Any], answer: dict[str, Any], latency_ms: float, data_dir: str
) -> None:
    """Show the request's history titles and the served, titled recommendations."""
    import json

    from rich.table import Table

    from distillrec.data import load_prepared

    titles = load_prepared(data_dir).items.set_index("item_id")["title"]
    console.print("history (oldest first): " + "; ".join(titles[i] for i in body["history"]))
    model = answer["model"]
    shown = f"{model['name']} v{model['version']} ({model['student']})"
    table = Table(title=f"POST /recommend -> {shown} in {latency_ms:.1f} ms")
    for column in ("rank", "item_id", "title", "score"):
        table.add_column(column)
    for rank, item in enumerate(answer["items"], 1):
        table.add_row(str(rank), str(item["item_id"]), item["title"], f"{item['score']:.3f}")
    console.print(table)
    console.print("request body: " + json.dumps(body))


def print_where_to_look(result: dict[str, Any], dataset: str) -> None:
    """The closing lines: where the report, the MLflow UI and the serve command are."""
    from rich.console import Console

    console = Console()
    console.rule("[bold]where to look")
    files = result["sweep"].get("report_files", {})
    for kind, path in files.items():
        console.print(f"report ({kind}): {path}")
    console.print("MLflow UI:   make mlflow-ui   (then open http://127.0.0.1:5000)")
    console.print(f"serve:       .venv/bin/distillrec serve --dataset {dataset}")
    console.print(f"demo total: {result['seconds']:.0f} s")

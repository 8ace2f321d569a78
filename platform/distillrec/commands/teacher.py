"""`distillrec teacher ...`: LoRA fine-tuning and Ray Data + vLLM inference of the LLM teacher."""

from __future__ import annotations

import typer

from distillrec.errors import exit_on_user_error

app = typer.Typer(no_args_is_help=True)

DEFAULT_CONFIG = "configs/teacher/smollm2-135m.yaml"


@app.command("finetune")
@exit_on_user_error
def finetune_command(
    config: str = typer.Option(DEFAULT_CONFIG, "--config", "-c", help="Teacher YAML config."),
    out: str | None = typer.Option(
        None, "--out", help="Merged model folder (finetune.output_dir)."
    ),
    overrides: list[str] = typer.Argument(None, help="key=value overrides, e.g. finetune.lr=1e-4"),
) -> None:
    """LoRA SFT of the base model on BIGRec prompts (Ray Train); saves a merged HF folder."""
    from distillrec.config import load_config
    from distillrec.teacher.config import TeacherConfig
    from distillrec.teacher.finetune import run_finetune

    cfg = load_config(TeacherConfig, config, overrides or [])
    run_finetune(cfg, out_dir=out)


@app.command("infer")
@exit_on_user_error
def infer_command(
    config: str = typer.Option(DEFAULT_CONFIG, "--config", "-c", help="Teacher YAML config."),
    limit: int | None = typer.Option(None, "--limit", help="At most N examples per split."),
    splits: str | None = typer.Option(None, "--splits", help="Comma list, e.g. train,val,test."),
    out: str | None = typer.Option(None, "--out", help="Artifact folder (default output_dir)."),
    fresh: bool = typer.Option(False, "--fresh", help="Discard unfinished parts of a run."),
    verbose: bool = typer.Option(
        False, "--verbose", "-v", help="Show vLLM's engine and Ray Data logs here (else: a file)."
    ),
    overrides: list[str] = typer.Argument(None, help="key=value overrides, e.g. sample.seed=1"),
) -> None:
    """Generate, ground and write the teacher artifact; resumes an interrupted run.

    Shows progress over the selected examples; vLLM's engine logs go to <artifact>.engine.log
    unless --verbose."""
    from distillrec.commands.progress import CountProgress
    from distillrec.config import load_config
    from distillrec.errors import UserError
    from distillrec.teacher.config import SPLITS, TeacherConfig
    from distillrec.teacher.engine_log import ENGINE_LOG_ENV, engine_log_path, start_engine_log
    from distillrec.teacher.inference import run_inference

    cfg = load_config(TeacherConfig, config, overrides or [])
    chosen = [s.strip() for s in splits.split(",") if s.strip()] if splits else None
    for split in chosen or []:
        if split not in SPLITS:
            raise UserError(f"--splits: unknown split {split!r} (choose from {', '.join(SPLITS)})")
    if not verbose:
        log = start_engine_log(engine_log_path(out or cfg.output_dir))
        cfg.inference.env = {**cfg.inference.env, ENGINE_LOG_ENV: str(log)}
        quiet_ray_data()
        typer.echo(f"teacher: vLLM engine logs go to {log} (--verbose shows them here)")
    with CountProgress("teacher", "examples", workers=cfg.inference.concurrency) as progress:
        run_inference(
            cfg, out_dir=out, splits=chosen, limit=limit, fresh=fresh, on_progress=progress.update
        )


def quiet_ray_data() -> None:
    """Ray Data's own progress bars and INFO lines off the console (its log file keeps them):
    the examples progress bar is the one to watch."""
    import logging

    import ray.data

    ray.data.DataContext.get_current().enable_progress_bars = False
    for handler in logging.getLogger("ray.data").handlers:
        if not isinstance(handler, logging.FileHandler) and "File" not in type(handler).__name__:
            handler.setLevel(logging.ERROR)


@app.command("tune")
@exit_on_user_error
def tune_command(
    config: str = typer.Option(
        "configs/teacher-tune/ml-100k.yaml", "--config", "-c", help="Teacher grid YAML."
    ),
    verbose: bool = typer.Option(
        False, "--verbose", "-v", help="Show vLLM's engine and Ray Data logs here (else: a file)."
    ),
    val_only: bool = typer.Option(
        False, "--val-only", help="Stop after choosing on val: leave test unread while exploring."
    ),
    overrides: list[str] = typer.Argument(None, help="key=value overrides, e.g. gammas=[0,1]"),
) -> None:
    """The teacher quality grid: every entry x decoding generated once on a seeded val sample,
    grounded with every embedder x popularity gamma; the best on val scored once on test.

    Reruns reuse stored generations. Writes <report_dir>/<name>/{grid.md,grid.csv,best.yaml}."""
    from pathlib import Path

    from distillrec.commands.progress import StagedProgress
    from distillrec.teacher.engine_log import ENGINE_LOG_ENV, start_engine_log
    from distillrec.teacher.tune import run_tune
    from distillrec.teacher.tune_config import load_tune_config

    tune = load_tune_config(config, overrides or [])
    if not verbose:
        log = start_engine_log(Path(tune.out_dir) / f"{tune.name}.engine.log")
        tune.engine_env = {ENGINE_LOG_ENV: str(log)}
        quiet_ray_data()
        typer.echo(f"teacher tune: vLLM engine logs go to {log} (--verbose shows them here)")
    workers = max(
        tune.teacher_config(entry, decoding).inference.concurrency
        for entry in tune.entries
        for decoding in tune.decodings_of(entry)
    )
    with StagedProgress("teacher tune", "examples", workers=workers) as progress:
        run_tune(tune, progress.update, read_test=not val_only)


@app.command("evaluate")
@exit_on_user_error
def evaluate_command(
    artifact: str = typer.Argument(..., help="Teacher artifact folder."),
    dataset: str = typer.Option("data/ml-100k", "--dataset", help="Prepared dataset folder."),
    sample: int | None = typer.Option(
        None, "--sample", min=1, help="Score N rows per split chosen by --seed (default: all)."
    ),
    seed: int = typer.Option(0, "--seed", help="Seed that chooses the --sample rows."),
    no_mlflow: bool = typer.Option(
        False, "--no-mlflow", help="Do not log the metrics to the artifact's MLflow run."
    ),
    tracking_uri: str | None = typer.Option(
        None,
        "--tracking-uri",
        help="MLflow store of that run (default: the one the manifest names).",
    ),
    json_out: str | None = typer.Option(
        None, "--json", help="Also write the metrics and the scored example_ids here."
    ),
) -> None:
    """HR/NDCG@1/5/10/20 of an artifact's rankings on the val/test examples it covers, with
    popularity and random on the same rows; logged to the MLflow run that made the artifact."""
    from distillrec.atomic import write_json_atomic
    from distillrec.data import load_prepared
    from distillrec.teacher.artifact import read_artifact
    from distillrec.teacher.evaluation import format_metrics
    from distillrec.teacher.manifest import log_to_artifact_run
    from distillrec.teacher.quality import score_artifact, score_metric_keys

    data = load_prepared(dataset)
    art = read_artifact(artifact, expected_fingerprint=data.fingerprint)
    scores = score_artifact(art, data, sample=sample, seed=seed)
    if not scores:
        print("teacher: the artifact ranks none of the val/test rows scored")
    for split, entry in scores.items():
        n = entry["n"]
        if sample is not None:
            print(
                f"teacher evaluate: {split}: {entry['sampled']} of {entry['split_rows']} rows "
                f"chosen with seed {seed}; the artifact ranks {n} of them (rows sha256 "
                f"{entry['rows_sha256']}); all three scored on those {n}"
            )
        for who in ("teacher", "popularity", "random"):
            line = format_metrics(split, {**entry[who], "num_examples": n})
            print(f"{who:<10s} {line}" + (" (expected)" if who == "random" else ""))
    message = "mlflow: not logged (--no-mlflow)"
    if not no_mlflow and scores:
        tags = {"distillrec.evaluate.dataset": str(data.path)}
        if sample is not None:
            rows = {s: e["rows_sha256"] for s, e in scores.items()}
            tags["distillrec.evaluate.sample"] = f"n={sample} seed={seed} rows_sha256={rows}"
        metrics = score_metric_keys(scores, sampled=sample is not None)
        message = log_to_artifact_run(art.manifest, metrics, tags, tracking_uri)
    print(message)
    if json_out:
        write_json_atomic(
            json_out,
            {
                "artifact": str(artifact),
                "dataset": str(data.path),
                "sample": {"n": sample, "seed": seed} if sample is not None else None,
                "splits": scores,
                "mlflow": message,
            },
        )


@app.command("from-model")
@exit_on_user_error
def from_model_command(
    model_uri: str = typer.Argument(
        ..., help="Student: MLflow URI (runs:/ID/model, models:/NAME@champion) or saved folder."
    ),
    dataset: str = typer.Option("data/ml-100k", "--dataset", help="Prepared dataset folder."),
    out: str = typer.Option(..., "--out", help="Teacher artifact folder to write."),
    topk: int = typer.Option(20, "--topk", help="Items per ranking (>= distill.candidate_topk)."),
    splits: str = typer.Option("train,val,test", "--splits", help="Comma list of splits."),
) -> None:
    """A teacher artifact from a trained student: its top-K (history excluded), score gaps as
    distances, its item embeddings. The positive control of distillation."""
    from distillrec.errors import UserError
    from distillrec.teacher.config import SPLITS
    from distillrec.teacher.from_model import teacher_from_model

    chosen = tuple(s.strip() for s in splits.split(",") if s.strip())
    for split in chosen:
        if split not in SPLITS:
            raise UserError(f"--splits: unknown split {split!r} (choose from {', '.join(SPLITS)})")
    path = teacher_from_model(model_uri, dataset, out, topk=topk, splits=chosen)
    print(f"teacher artifact: {path}")


def _register_import_command() -> None:
    """``import-dllm2rec`` lives in the students' module; register it once that module exists."""
    try:
        from distillrec.commands.teacher_import import import_dllm2rec_command
    except ModuleNotFoundError as err:
        if err.name != "distillrec.commands.teacher_import":
            raise
        return
    app.command("import-dllm2rec", help="Import DLLM2Rec's published teacher files.")(
        import_dllm2rec_command
    )


_register_import_command()

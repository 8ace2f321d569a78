"""Run a study: paired runs of students x variants x seeds, on the sweep's Ray Tune code path.

One MLflow parent run for the whole study; per dataset one Ray Tune experiment (metrics of
different datasets do not compare) whose trials are ``distillrec.training.train`` calls nested
under the parent, named by :func:`distillrec.training.naming.run_name` (dataset, student,
the study's variant, settings, seed, trial). The grid is exhaustive and
there is no early-stopping scheduler, so every run gets the same epoch budget (early stopping
on validation inside a run is part of the training recipe, identical for all). ``resume=True``
restores the latest study folder: finished runs are kept, never rerun. Failed runs fail the
study (``StudyResult.error``, exit 1) unless ``allow_failed_trials`` (sweep/failures.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from distillrec.config import apply_overrides, validate
from distillrec.errors import UserError
from distillrec.runtime import check_tracking_store, ensure_ray, tracking_uri
from distillrec.study.config import StatisticsConfig, StudyConfig
from distillrec.sweep import tracking
from distillrec.sweep.failures import judge_study_failures
from distillrec.sweep.trial import SweepTrial
from distillrec.sweep.tuner import (
    TunePlan,
    TuneRun,
    can_restore,
    check_resources,
    check_teacher,
    dataset_fingerprint,
    stamped_folder,
)
from distillrec.teacher.artifact import manifest_sha256


@dataclass
class StudyResult:
    """What a study produced (per dataset: its report files)."""

    name: str
    parent_run_id: str
    study_dir: Path
    num_runs: int
    num_errors: int
    interrupted: bool
    report_files: dict[str, dict[str, Path]] = field(default_factory=dict)
    error: str | None = None  # runs failed and the config does not allow it (exit 1)
    warning: str | None = None  # runs failed, allowed (allow_failed_trials), said out loud


@dataclass
class _Dataset:
    name: str
    path: Path
    fingerprint: str
    teacher: str | None


def run_study(
    cfg: StudyConfig, *, resume: bool = False, callbacks: list[Any] | None = None
) -> StudyResult:
    """Run (or, with ``resume``, continue) every paired run of ``cfg``; then report."""
    uri = tracking_uri(cfg.mlflow.tracking_uri)  # absolute: trials run elsewhere
    check_tracking_store(uri)  # an unreachable store fails in one line, before Ray starts
    datasets = [check_dataset(cfg, spec) for spec in cfg.datasets]
    ensure_ray()
    check_resources(cfg)
    study_dir = pick_study_dir(cfg, resume)
    parent_run_id = open_study_parent(cfg, uri, study_dir, datasets, resume)
    num_runs = num_errors = 0
    interrupted = False
    results: dict[str, list[Any]] = {}  # per dataset: every run's Tune Result
    for data in datasets:
        grid, stopped = run_dataset(cfg, data, uri, parent_run_id, study_dir, resume, callbacks)
        results[data.name] = list(grid)
        num_runs += len(grid)
        num_errors += grid.num_errors
        interrupted = interrupted or stopped or grid.num_terminated + grid.num_errors < len(grid)
        if interrupted:
            break
    tracking.close_stale_children(uri, parent_run_id)
    result = StudyResult(cfg.name, parent_run_id, study_dir, num_runs, num_errors, interrupted)
    if interrupted:
        tracking.client(uri).set_terminated(parent_run_id, status="KILLED")
        return result
    verdict = judge_study_failures(
        results,
        study=cfg.name,
        where=f"Tune folder {study_dir}, parent run {parent_run_id}",
        allow_failed=cfg.allow_failed_trials,
    )
    result.error, result.warning = verdict.error, verdict.warning
    from distillrec.study.report import write_study_report

    for data in datasets:
        if all(r.error is not None for r in results[data.name]):
            continue  # nothing finished to report; the error names the failed runs
        out_dir = Path(cfg.report_dir) / cfg.name / data.name
        result.report_files[data.name] = write_study_report(
            uri, parent_run_id, data.name, out_dir, teacher=data.teacher
        )
    failed = verdict.error is not None or num_errors == num_runs
    tracking.finish_parent(uri, parent_run_id, failed=failed)
    return result


def run_dataset(
    cfg: StudyConfig,
    data: _Dataset,
    uri: str,
    parent_run_id: str,
    study_dir: Path,
    resume: bool,
    callbacks: list[Any] | None,
) -> tuple[Any, bool]:
    """One dataset's grid of paired runs through the shared :class:`TuneRun`."""
    from ray import tune

    trial = SweepTrial(
        dataset_path=str(data.path),
        teacher=data.teacher,
        base=dict(cfg.base),
        epochs=cfg.epochs,
        cpus_per_trial=cfg.resources.cpus_per_trial,
        tracking_uri=uri,
        experiment=cfg.mlflow.experiment,
        parent_run_id=parent_run_id,
        tags={tracking.STUDY_TAG: cfg.name, tracking.DATASET_TAG: data.name},
        variants=cfg.variant_overrides(),
        student_presets=cfg.presets(),
    )
    experiment_path = study_dir / data.name
    plan = None
    if not (resume and can_restore(experiment_path)):
        plan = TunePlan(
            param_space={
                "student": tune.grid_search(list(cfg.students)),
                "seed": tune.grid_search(list(cfg.seeds)),
                "variant": tune.grid_search(list(cfg.variants)),
            },
            max_concurrent_trials=cfg.max_concurrent_trials,
        )
    run = TuneRun.for_config(cfg, trial, experiment_path, callbacks)
    return run.fit(plan, uri, parent_run_id)


def check_dataset(cfg: StudyConfig, spec: Any) -> _Dataset:
    """Prepared data, teacher artifact (fingerprint, top-K) and every run's ``TrainConfig``
    checked before Ray starts."""
    from distillrec.training import TrainConfig  # torch: imported when a study runs

    path = Path(spec.dataset_path).resolve()
    fingerprint = dataset_fingerprint(path)
    topk = 0
    for student, preset in cfg.presets().items():
        for variant, overrides in cfg.variant_overrides().items():
            data = {**cfg.base, **preset, **overrides, "dataset": str(path), "epochs": cfg.epochs}
            source = f"study {cfg.name} (student {student}, variant {variant})"
            run = validate(TrainConfig, apply_overrides({}, data), source)
            if overrides.get("teacher", spec.teacher) is not None and run.distill.lam > 0:
                topk = max(topk, run.distill.candidate_topk)
    teacher = check_teacher(spec, fingerprint, min_topk=topk or None)
    return _Dataset(spec.name, path, fingerprint, teacher)


def pick_study_dir(cfg: StudyConfig, resume: bool) -> Path:
    """A new timestamped folder, or (resume) the latest one this study left."""
    return stamped_folder(cfg.storage_path, f"study-{cfg.name}-", resume, "study")


def open_study_parent(
    cfg: StudyConfig, uri: str, study_dir: Path, datasets: list[_Dataset], resume: bool
) -> str:
    """The study's parent run: reopened when resuming, else created (its id kept on disk).

    Its params hold the statistics settings, which every report of the study reads back."""
    if resume:
        check_resumed_statistics(uri, study_dir, cfg.statistics)  # before the parent reopens
    resumed = tracking.resumed_parent(uri, study_dir, resume)
    if resumed:
        if StatisticsConfig.from_params(tracking.client(uri).get_run(resumed).data.params) is None:
            for key, value in cfg.statistics.as_params().items():  # a study from before they
                tracking.client(uri).log_param(resumed, key, value)  # were logged
        return resumed
    tags = {
        tracking.KIND_TAG: "study",
        tracking.STUDY_TAG: cfg.name,
        tracking.DATASET_TAG: ",".join(d.name for d in datasets),
    }
    params: dict[str, Any] = {
        "students": cfg.students,
        "variants": cfg.variants,
        "seeds": cfg.seeds,
        "epochs": cfg.epochs,
        "base": cfg.base,
        "student_presets": cfg.presets(),
        "variant_overrides": cfg.variant_overrides(),
        "cpus_per_trial": cfg.resources.cpus_per_trial,
        "study_dir": str(study_dir),
        **cfg.statistics.as_params(),
    }
    for data in datasets:
        params[f"{data.name}.fingerprint"] = data.fingerprint
        params[f"{data.name}.teacher_artifact"] = data.teacher or ""
        params[f"{data.name}.teacher_manifest_sha256"] = (
            manifest_sha256(data.teacher) if data.teacher else ""
        )
    return tracking.new_parent_run(
        uri,
        cfg.mlflow.experiment,
        study_dir,
        run_name=f"study/{cfg.name}",
        tags=tags,
        params=params,
        state={"study": cfg.name},
    )


def check_resumed_statistics(uri: str, study_dir: Path, statistics: StatisticsConfig) -> None:
    """A resumed study keeps the statistics it was started with: MLflow params cannot change,
    and its report must say what ``distillrec report`` will rebuild later."""
    run_id = tracking.read_state(study_dir).get("parent_run_id")
    if not run_id:
        return
    logged = StatisticsConfig.from_params(tracking.client(uri).get_run(run_id).data.params)
    if logged is not None and logged != statistics:
        changed = [
            f"{key} {getattr(logged, key)} -> {getattr(statistics, key)}"
            for key in type(statistics).model_fields
            if getattr(logged, key) != getattr(statistics, key)
        ]
        raise UserError(
            f"--resume: statistics differ from the study's parent run {run_id} "
            f"({'; '.join(changed)}); a study keeps its settings: resume without changing them"
        )

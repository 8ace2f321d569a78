"""Run a sweep: one Ray Tune ``Tuner`` per dataset (metrics of different datasets don't compare).

Before Ray starts, every dataset's prepared data and teacher artifact are checked once
(:func:`check_inputs`). Per dataset: open the MLflow parent run, run the trials
(``distillrec.training.train`` under ASHA), then register the champion and write the report.
Every sweep gets its own experiment folder under ``storage_path``; ``resume=True`` continues the
latest one with ``Tuner.restore`` (finished trials are kept, unfinished and failed ones rerun).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from distillrec.contracts import BASELINE, DISTILL, TEST_SELECTION_KEY, VAL_METRIC
from distillrec.distill.variants import NO_DISTILLATION, is_distillation_key
from distillrec.errors import UserError
from distillrec.provenance import source_tags
from distillrec.runtime import tracking_uri
from distillrec.sweep import tracking
from distillrec.sweep.config import DatasetSpec, SweepConfig
from distillrec.sweep.failures import judge_failures
from distillrec.sweep.progress import configured_table, live_table
from distillrec.sweep.space import MODE, build_scheduler, build_search
from distillrec.sweep.trial import CONTROL_KEYS, SweepTrial


class _QuietBaselinePresets(logging.Filter):
    """Ray warns that a preset point changes ``variant``; for our baselines that is the point."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "Pre-set value `baseline`" not in record.getMessage()


class _InterruptionWatch(logging.Handler):
    """Notices Ray Tune's "Experiment has been interrupted" (Ctrl-C / SIGUSR1 during ``fit``).

    ``Tuner.fit`` returns normally after an interruption, with the stopped trials marked as
    terminated in memory; this warning is the one signal that the sweep did not complete.
    """

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.interrupted = False

    def emit(self, record: logging.LogRecord) -> None:
        if "has been interrupted" in record.getMessage():
            self.interrupted = True


@dataclass
class DatasetSweep:
    """What one dataset's sweep produced."""

    dataset: str
    experiment_path: Path
    parent_run_id: str
    num_trials: int
    num_errors: int
    interrupted: bool
    champion: Any = None  # distillrec.sweep.registration.RegisteredChampion
    report_files: dict[str, Path] = field(default_factory=dict)
    error: str | None = None  # failed trials made this sweep fail (see sweep/failures.py)
    warning: str | None = None  # failed trials accepted (allow_failed_trials), said out loud


def run_sweep(
    cfg: SweepConfig,
    *,
    resume: bool = False,
    callbacks: list[Any] | None = None,
    force_champion: bool = False,
) -> list[DatasetSweep]:
    """Sweep every dataset of ``cfg`` in turn (``callbacks``: extra Ray Tune callbacks;
    ``force_champion``: the best trial takes ``@champion`` even if it is not better)."""
    from distillrec.runtime import check_tracking_store, ensure_ray

    check_tracking_store(tracking_uri(cfg.mlflow.tracking_uri))  # before Ray starts
    inputs = check_inputs(cfg)  # before Ray starts: a wrong file fails in one line, in seconds
    ensure_ray()
    logging.getLogger("ray.tune.search.variant_generator").addFilter(_QuietBaselinePresets())
    return [
        run_dataset_sweep(
            cfg, checked, resume=resume, callbacks=callbacks, force_champion=force_champion
        )
        for checked in inputs
    ]


@dataclass(frozen=True)
class DatasetInputs:
    """One dataset's inputs to a sweep, as :func:`check_inputs` found them."""

    spec: DatasetSpec
    dataset_path: Path  # absolute: trials run elsewhere
    fingerprint: str
    teacher: str | None  # the artifact's absolute path; None: baselines only
    base_values: dict[str, Any]  # each search key's value in the base config (what baselines use)


def check_inputs(cfg: SweepConfig) -> list[DatasetInputs]:
    """The one check of a sweep's inputs, before Ray starts (:func:`run_sweep`): every dataset's
    prepared data against its fingerprint, its teacher artifact against that fingerprint and the
    largest ``candidate_topk`` a trial may use, and the base and search keys against the
    training config. Raises :class:`UserError` (one line) on the first problem."""
    topk = max_candidate_topk(cfg)
    inputs = []
    for spec in cfg.datasets:
        path = Path(spec.dataset_path).resolve()
        fingerprint = dataset_fingerprint(path)
        teacher = check_teacher(spec, fingerprint, topk)
        base_values = check_train_keys(cfg, path)
        inputs.append(DatasetInputs(spec, path, fingerprint, teacher, base_values))
    return inputs


def run_dataset_sweep(
    cfg: SweepConfig,
    inputs: DatasetInputs,
    *,
    resume: bool = False,
    callbacks: list[Any] | None = None,
    force_champion: bool = False,
) -> DatasetSweep:
    """One dataset's Tuner, from a fresh start or resumed; then champion and report.
    ``inputs``: what :func:`check_inputs` checked (nothing is checked twice)."""
    uri = tracking_uri(cfg.mlflow.tracking_uri)  # absolute: trials run elsewhere
    spec, dataset_path, fingerprint = inputs.spec, inputs.dataset_path, inputs.fingerprint
    base_values, teacher = inputs.base_values, inputs.teacher
    check_resources(cfg)
    experiment_path = pick_experiment_path(cfg, spec.name, resume)
    teacher_info = compared_teacher_tags(teacher, dataset_path)
    parent_run_id = open_parent_run(
        cfg, spec, uri, experiment_path, fingerprint, teacher, resume, teacher_info
    )
    trial = SweepTrial(
        dataset_path=str(dataset_path),
        teacher=teacher,
        base=dict(cfg.base),
        epochs=cfg.epochs,
        cpus_per_trial=cfg.resources.cpus_per_trial,
        tracking_uri=uri,
        experiment=cfg.mlflow.experiment,
        parent_run_id=parent_run_id,
        tags={
            tracking.SWEEP_TAG: cfg.name,
            tracking.DATASET_TAG: spec.name,
            **source_tags(),
            **teacher_info,
        },
    )
    plan = None
    if not (resume and can_restore(experiment_path)):
        param_space, search_alg, num_samples = build_search(
            cfg, base_values, cfg.max_concurrent_trials or 0
        )
        optuna = cfg.search.algorithm == "optuna"
        plan = TunePlan(
            param_space=param_space,
            search_alg=search_alg,
            scheduler=build_scheduler(cfg),
            num_samples=num_samples,
            max_concurrent_trials=cfg.max_concurrent_trials if optuna else None,
        )
    run = TuneRun.for_config(cfg, trial, experiment_path, callbacks, live_table(cfg))
    grid, interrupted = run.fit(plan, uri, parent_run_id)
    grids = [grid]
    if cfg.baseline and cfg.baseline_tuning == "rerun_best" and teacher and not interrupted:
        tuned = {} if _incomplete(grid) else tuned_baseline_settings(grid)
        if tuned:  # empty when no distillation trial finished: nothing to re-run
            record_tuned_baselines(uri, parent_run_id, tuned)
            reporter = live_table(cfg, baselines=True)
            baseline_grid, interrupted = run_tuned_baselines(
                run, trial, tuned, uri, resume, reporter
            )
            grids.append(baseline_grid)
    return finish_dataset_sweep(
        cfg,
        spec,
        uri,
        parent_run_id,
        experiment_path,
        grids,
        interrupted=interrupted,
        force_champion=force_champion,
    )


def tuned_baseline_settings(grid: Any) -> dict[str, dict[str, Any]]:
    """Per student, the non-distillation settings of its best finished DLLM2Rec trial (on
    validation NDCG@20): what its baseline re-runs with distillation off, so both sides of the
    reported gain had the same tuning."""
    best: dict[str, tuple[float, dict[str, Any]]] = {}
    for result in grid:
        config, metrics = result.config or {}, result.metrics or {}
        if config.get("variant", DISTILL) != DISTILL or TEST_SELECTION_KEY not in metrics:
            continue
        student = config["student"]
        if student not in best or metrics[VAL_METRIC] > best[student][0]:
            best[student] = (metrics[VAL_METRIC], config)
    return {
        student: {
            k: v for k, v in config.items() if k not in CONTROL_KEYS and not is_distillation_key(k)
        }
        for student, (_, config) in best.items()
    }


def record_tuned_baselines(uri: str, parent_run_id: str, tuned: dict[str, dict[str, Any]]) -> None:
    """What each student's baseline re-ran, on the parent run (the report prints it)."""
    mlf = tracking.client(uri)
    existing = mlf.get_run(parent_run_id).data.params
    for student, settings in tuned.items():
        key = f"tuned_baseline.{student}"
        if key not in existing:  # a resumed sweep re-derives the same settings
            mlf.log_param(parent_run_id, key, json.dumps(settings, sort_keys=True))


def run_tuned_baselines(
    run: TuneRun,
    trial: SweepTrial,
    tuned: dict[str, dict[str, Any]],
    uri: str,
    resume: bool,
    reporter: Any = None,
) -> tuple[Any, bool]:
    """One no-distillation trial per student with its best DLLM2Rec trial's settings, through
    the same :class:`TuneRun` (own Tune folder ``<experiment>-baselines``, no scheduler).

    The settings are also each trial's config (:class:`TunedValue`), so ``reporter`` (the live
    table, or None) shows what every baseline trains with."""
    from ray import tune

    presets = {s: {"student": s, **settings} for s, settings in tuned.items()}
    path = run.experiment_path.with_name(run.experiment_path.name + "-baselines")
    baselines = dataclasses.replace(
        run,
        trial=dataclasses.replace(trial, student_presets=presets),
        experiment_path=path,
        progress_reporter=reporter,
    )
    shared = set.intersection(*(set(settings) for settings in tuned.values())) if tuned else set()
    plan = None
    if not (resume and can_restore(path)):
        plan = TunePlan(
            param_space={
                "student": tune.grid_search(sorted(tuned)),
                "variant": BASELINE,
                # what the baselines train with, so the live table shows lam 0 / ed_weight 0
                **{
                    k: v
                    for k, v in NO_DISTILLATION.items()
                    if is_distillation_key(k) and v is not None
                },
                **{key: tune.sample_from(TunedValue(tuned, key)) for key in sorted(shared)},
            }
        )
    return baselines.fit(plan, uri, trial.parent_run_id)


class TunedValue:
    """``key``'s tuned value for the trial's student (a picklable ``tune.sample_from`` function:
    the Tuner state is saved for ``--resume``)."""

    def __init__(self, tuned: dict[str, dict[str, Any]], key: str) -> None:
        self.tuned, self.key = tuned, key

    def __call__(self, config: dict[str, Any]) -> Any:
        return self.tuned[config["student"]][self.key]


def _incomplete(grid: Any) -> bool:
    return grid.num_terminated + grid.num_errors < len(grid)


@dataclass
class TunePlan:
    """What a fresh Tuner searches: Ray Tune's param space, search algorithm and scheduler."""

    param_space: dict[str, Any]
    search_alg: Any = None  # None = Ray's BasicVariantGenerator (grid and random)
    scheduler: Any = None  # None = FIFO: every trial gets the full budget
    num_samples: int = 1
    max_concurrent_trials: int | None = None


def can_restore(experiment_path: Path) -> bool:
    from ray import tune

    return tune.Tuner.can_restore(str(experiment_path))


@dataclass
class TuneRun:
    """The one Ray Tune code path of sweeps and studies: the same trainable
    (:class:`~distillrec.sweep.trial.SweepTrial`, i.e. ``distillrec.training.train``), the
    same resources, failure handling, resume (``Tuner.restore``: finished trials are kept,
    unfinished and failed ones rerun) and interruption detection."""

    trial: SweepTrial
    cpus_per_trial: float
    gpus_per_trial: float
    experiment_path: Path
    max_failures: int
    verbose: int = 1
    callbacks: list[Any] | None = None
    progress_reporter: Any = None  # None: Tune's default output (studies)

    @classmethod
    def for_config(
        cls,
        cfg: Any,
        trial: SweepTrial,
        experiment_path: Path,
        callbacks: list[Any] | None = None,
        progress_reporter: Any = None,
    ) -> TuneRun:
        """The run a sweep or study config asks for (its resources, failures and verbosity)."""
        return cls(
            trial=trial,
            cpus_per_trial=cfg.resources.cpus_per_trial,
            gpus_per_trial=cfg.resources.gpus_per_trial,
            experiment_path=experiment_path,
            max_failures=cfg.max_failures,
            verbose=cfg.verbose,
            callbacks=callbacks,
            progress_reporter=progress_reporter,
        )

    def build_tuner(self, plan: TunePlan | None) -> Any:
        """A new Tuner from ``plan``, or (``plan`` None) the one restored from disk."""
        from ray import tune

        resources = {"cpu": self.cpus_per_trial, "gpu": self.gpus_per_trial}
        trainable = tune.with_resources(self.trial, resources)
        if plan is None:
            return tune.Tuner.restore(
                str(self.experiment_path), trainable, resume_unfinished=True, restart_errored=True
            )
        tune_config = tune.TuneConfig(
            metric=VAL_METRIC,
            mode=MODE,
            search_alg=plan.search_alg,
            scheduler=plan.scheduler,
            num_samples=plan.num_samples,
            max_concurrent_trials=plan.max_concurrent_trials,
            trial_dirname_creator=lambda t: f"trial_{t.trial_id}",
        )
        run_config = tune.RunConfig(
            name=self.experiment_path.name,
            storage_path=str(self.experiment_path.parent),
            failure_config=tune.FailureConfig(max_failures=self.max_failures),
            verbose=self.verbose,
            callbacks=self.callbacks,
            progress_reporter=self.progress_reporter,
        )
        return tune.Tuner(
            trainable, param_space=plan.param_space, tune_config=tune_config, run_config=run_config
        )

    def fit(self, plan: TunePlan | None, uri: str, parent_run_id: str) -> tuple[Any, bool]:
        """Run the trials; returns ``(ResultGrid, interrupted)``. On an exception the trial
        runs still open are closed and the parent run is marked FAILED."""
        tuner = self.build_tuner(plan)
        watch = _InterruptionWatch()
        tune_logger = logging.getLogger("ray.tune.tune")
        tune_logger.addHandler(watch)
        try:
            if self.progress_reporter is None:
                grid = tuner.fit()
            else:
                with configured_table():
                    grid = tuner.fit()
        except BaseException:
            tracking.close_stale_children(uri, parent_run_id)
            tracking.finish_parent(uri, parent_run_id, failed=True)
            raise
        finally:
            tune_logger.removeHandler(watch)
        return grid, watch.interrupted


def finish_dataset_sweep(
    cfg: SweepConfig,
    spec: DatasetSpec,
    uri: str,
    parent_run_id: str,
    path: Path,
    grids: list[Any],
    *,
    interrupted: bool = False,
    force_champion: bool = False,
) -> DatasetSweep:
    """Close stopped trial runs; unless interrupted, register the champion and write the report."""
    from distillrec.sweep.registration import register_champion
    from distillrec.sweep.report import report_folder, write_report

    tracking.close_stale_children(uri, parent_run_id)
    num_trials = sum(len(grid) for grid in grids)
    num_errors = sum(grid.num_errors for grid in grids)
    interrupted = interrupted or any(_incomplete(grid) for grid in grids)
    result = DatasetSweep(spec.name, path, parent_run_id, num_trials, num_errors, interrupted)
    if interrupted:
        tracking.client(uri).set_terminated(parent_run_id, status="KILLED")
        return result
    verdict = judge_failures(
        [result for grid in grids for result in grid],
        dataset=spec.name,
        has_teacher=spec.teacher is not None,
        allow_failed=cfg.allow_failed_trials,
    )
    result.error, result.warning = verdict.error, verdict.warning
    if cfg.register_champion and verdict.register:
        result.champion = register_champion(
            uri, parent_run_id, spec.name, sweep=cfg.name, force=force_champion
        )
    out_dir = report_folder(cfg.report_dir, spec.name, cfg.name, parent_run_id)
    result.report_files = write_report(uri, parent_run_id, spec.name, out_dir)
    failed = num_errors == num_trials or not verdict.register
    tracking.finish_parent(uri, parent_run_id, failed=failed)
    return result


def open_parent_run(
    cfg: SweepConfig,
    spec: DatasetSpec,
    uri: str,
    experiment_path: Path,
    fingerprint: str,
    teacher: str | None,
    resume: bool,
    teacher_info: dict[str, str] | None = None,
) -> str:
    """The dataset sweep's parent run: reopened when resuming, else created (id kept on disk);
    ``teacher_info``: :func:`compared_teacher_tags`."""
    resumed = tracking.resumed_parent(uri, experiment_path, resume)
    if resumed:
        return resumed
    tags = {
        tracking.KIND_TAG: "sweep",
        tracking.SWEEP_TAG: cfg.name,
        tracking.DATASET_TAG: spec.name,
        tracking.FINGERPRINT_TAG: fingerprint,
        tracking.TEACHER_TAG: teacher or "",
        **source_tags(),
        **(teacher_info or {}),
    }
    params = {
        "students": cfg.students,
        "search_algorithm": cfg.search.algorithm,
        "num_samples": cfg.search.num_samples,
        "scheduler": cfg.scheduler.type,
        "epochs": cfg.epochs,
        "cpus_per_trial": cfg.resources.cpus_per_trial,
        "gpus_per_trial": cfg.resources.gpus_per_trial,
        "max_concurrent_trials": cfg.max_concurrent_trials,
        "max_failures": cfg.max_failures,
        "search_space": {k: {d.kind: d.values} for k, d in cfg.search_space.items()},
        "base": cfg.base,
        "baseline_tuning": cfg.baseline_tuning if cfg.baseline else "none",
        "experiment_path": str(experiment_path),
    }
    return tracking.new_parent_run(
        uri,
        cfg.mlflow.experiment,
        experiment_path,
        run_name=f"{cfg.name}/{spec.name}",
        tags=tags,
        params=params,
        state={"dataset": spec.name},
    )


def compared_teacher_tags(teacher: str | None, dataset_path: Path) -> dict[str, str]:
    """The teacher's identity, own quality and training coverage (``teacher_train_coverage``)
    for every run of the sweep, baselines included (they are compared with it);
    ``teacher_artifact`` and each run's own ``rd_coverage`` stay with the run."""
    from distillrec.teacher.artifact import read_manifest
    from distillrec.teacher.quality import teacher_train_coverage
    from distillrec.training.teacher_info import teacher_tags

    if teacher is None:
        return {}
    coverage = teacher_train_coverage(dataset_path, teacher)
    tags = teacher_tags(read_manifest(teacher), teacher, coverage)
    tags.pop("teacher_artifact")
    return tags


def pick_experiment_path(cfg: SweepConfig, dataset: str, resume: bool) -> Path:
    """A new timestamped folder, or (resume) the latest one this sweep and dataset left."""
    return stamped_folder(cfg.storage_path, f"{cfg.name}-{dataset}-", resume, "sweep")


def stamped_folder(storage_path: str, prefix: str, resume: bool, what: str) -> Path:
    """``<storage>/<prefix><UTC time>``, or (resume) the latest such folder (sweeps, studies)."""
    storage = Path(storage_path).resolve()
    if resume:
        stamp = re.compile(re.escape(prefix) + r"\d{8}-\d{6}$")
        previous = sorted(p for p in storage.glob(f"{prefix}*") if stamp.match(p.name))
        if not previous:
            raise UserError(f"--resume: no earlier {what} {prefix}* under {storage} to continue")
        return previous[-1]
    return storage / f"{prefix}{time.strftime('%Y%m%d-%H%M%S', time.gmtime())}"


def dataset_fingerprint(path: Path) -> str:
    """The prepared dataset's fingerprint (Contract 1), checked against its files before Ray
    starts (a trial would refuse the data anyway, after the sweep had begun)."""
    from distillrec.data.prepared import verified_fingerprint

    return verified_fingerprint(path)


def check_teacher(spec: DatasetSpec, fingerprint: str, min_topk: int | None = None) -> str | None:
    """The teacher artifact's absolute path, refused before Ray starts when made for other data
    or holding fewer candidates than a trial may ask for."""
    if spec.teacher is None:
        return None
    from distillrec.teacher.artifact import how_to_create, read_manifest

    path = Path(spec.teacher).resolve()
    if not path.exists():
        raise UserError(
            f"datasets.{spec.name}.teacher: {path} does not exist; "
            f"{how_to_create(spec.teacher, spec.dataset_path)}, or set it to null (baselines only)"
        )
    try:
        read_manifest(path, expected_fingerprint=fingerprint, min_topk=min_topk)
    except UserError as err:
        raise UserError(f"datasets.{spec.name}.teacher: {err}") from None
    return str(path)


def max_candidate_topk(cfg: SweepConfig) -> int:
    """The largest ``distill.candidate_topk`` any trial of ``cfg`` can use (the base config's
    value unless the search space varies it)."""
    from distillrec.config import apply_overrides
    from distillrec.training import TrainConfig

    dist = cfg.search_space.get("distill.candidate_topk")
    if dist is None:
        base = apply_overrides({}, {**cfg.base, "student": cfg.students[0]})
        return TrainConfig.model_validate(base).distill.candidate_topk
    if dist.kind in {"grid", "choice"}:
        return int(max(dist.values))
    return int(dist.values[1]) - (1 if dist.kind == "randint" else 0)


def check_train_keys(cfg: SweepConfig, dataset_path: Path) -> dict[str, Any]:
    """Validate ``base`` and every search key against ``TrainConfig``; return the base values."""
    from distillrec.sweep.config import train_key_values

    return train_key_values(cfg, str(dataset_path))


def check_resources(cfg: SweepConfig) -> None:
    """A trial asking for more than the cluster has would wait forever: refuse it now."""
    import ray

    available = ray.cluster_resources()
    for name, key, wanted in (
        ("cpus_per_trial", "CPU", cfg.resources.cpus_per_trial),
        ("gpus_per_trial", "GPU", cfg.resources.gpus_per_trial),
    ):
        if wanted > available.get(key, 0.0):
            raise UserError(
                f"resources.{name}={wanted}: the Ray cluster has only {available.get(key, 0.0)}"
            )

"""The Tune trainable: one sweep or study trial = one call of ``distillrec.training.train``.

No second training loop: the trial turns its sampled values into a ``TrainConfig``, gives torch its
share of the CPUs, forwards every epoch's metrics to Ray Tune (so ASHA can stop weak trials) and
nests the MLflow run that ``train`` opens under the sweep's or study's parent run (``run_tags``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from distillrec.contracts import BASELINE, DISTILL, VAL_METRIC, metric_key, split_metrics
from distillrec.distill.variants import NO_DISTILLATION
from distillrec.sweep import tracking

CONTROL_KEYS = ("student", "variant")


@dataclass
class SweepTrial:
    """Everything a trial needs besides its sampled config (picklable, sent to the workers).

    Sweeps and studies run this same trainable. ``variants`` maps a trial's ``variant`` to its
    distillation overrides (a sweep: ``baseline`` only; a study: every variant it compares);
    ``student_presets`` maps a trial's ``student`` to ``TrainConfig`` overrides (a study's
    ``dros`` = SASRec with the DROS term); ``named_runs`` names the MLflow run
    ``<dataset>-<student>-<variant>-seed<N>`` (studies).
    """

    dataset_path: str
    teacher: str | None
    base: dict[str, Any]
    epochs: int
    cpus_per_trial: float
    tracking_uri: str
    experiment: str
    parent_run_id: str
    tags: dict[str, str] = field(default_factory=dict)
    variants: dict[str, dict[str, Any]] = field(
        default_factory=lambda: {BASELINE: dict(NO_DISTILLATION)}
    )
    student_presets: dict[str, dict[str, Any]] = field(default_factory=dict)
    named_runs: bool = False

    def __post_init__(self) -> None:
        self.__name__ = "distillrec_trial"  # Ray Tune names trials after the trainable

    def train_overrides(self, config: dict[str, Any]) -> dict[str, Any]:
        """Dotted ``TrainConfig`` keys for this trial (sampled values over the sweep's base)."""
        variant = config.get("variant", DISTILL)
        overrides = dict(self.base)
        student = config["student"]
        overrides.update(self.student_presets.get(student, {"student": student}))
        overrides.update({k: v for k, v in config.items() if k not in CONTROL_KEYS})
        overrides.update(
            {
                "dataset": self.dataset_path,
                "epochs": self.epochs,
                "num_threads": threads_for(self.cpus_per_trial),
                "teacher": self.teacher,
                "mlflow.tracking_uri": self.tracking_uri,
                "mlflow.experiment": self.experiment,
            }
        )
        overrides.update(self.variants.get(variant, {}))
        if self.teacher is None:
            overrides.update(NO_DISTILLATION)
        return overrides

    def variant_tag(self, config: dict[str, Any], train_config: Any) -> str:
        """The variant's name; a sweep's distillation trial is named by what it actually uses."""
        name = config.get("variant", DISTILL)
        return variant_of(train_config) if name == DISTILL else name

    def __call__(self, config: dict[str, Any]) -> None:
        from ray import tune

        from distillrec.config import apply_overrides, validate
        from distillrec.training import TrainConfig, train

        train_config = validate(
            TrainConfig, apply_overrides({}, self.train_overrides(config)), "sweep trial"
        )
        run_tags = {
            **self.tags,
            tracking.PARENT_TAG: self.parent_run_id,
            tracking.KIND_TAG: "trial",
            tracking.STUDENT_TAG: config["student"],
            tracking.VARIANT_TAG: self.variant_tag(config, train_config),
            tracking.SEED_TAG: str(train_config.seed),
            tracking.TRIAL_TAG: tune.get_context().get_trial_id(),
        }
        run_name = None
        if self.named_runs:
            dataset = self.tags.get(tracking.DATASET_TAG, "")
            student, variant = config["student"], run_tags[tracking.VARIANT_TAG]
            run_name = f"{dataset}-{student}-{variant}-seed{train_config.seed}"

        previous = tracking.finished_trial_run(
            self.tracking_uri, self.parent_run_id, run_tags[tracking.TRIAL_TAG]
        )
        if previous is not None:  # finished just before an interruption: do not train again
            tune.report(tracking.final_metrics_of(previous))
            return

        def report_fn(epoch: int, metrics: dict[str, Any]) -> None:
            # The last epoch is reported with the final metrics below: a scheduler stopping the
            # trial there would throw away a finished training before its model is logged.
            if epoch < self.epochs:
                tune.report({**tune_metrics(metrics), "epoch": epoch})

        result = train(train_config, report_fn=report_fn, run_tags=run_tags, run_name=run_name)
        tune.report(
            {
                **split_metrics("val", result.val),
                **split_metrics("test", result.test),
                "best_epoch": result.best_epoch,
                "mlflow_run_id": result.mlflow_run_id or "",
            }
        )


def variant_of(config: Any) -> str:
    """``dllm2rec`` when a teacher is used with a non-zero distillation weight, else baseline."""
    uses_teacher = config.distill.lam > 0 or config.distill.ed_weight > 0
    return DISTILL if config.teacher and uses_teacher else BASELINE


def threads_for(cpus: float) -> int:
    """Torch threads for a trial's CPU share (at least one)."""
    return max(1, int(cpus))


def tune_metrics(metrics: dict[str, Any]) -> dict[str, float]:
    """A training report (``val_ndcg@20``, ...) as Tune metrics named like MLflow's."""
    out = {
        metric_key(key): float(value)
        for key, value in metrics.items()
        if isinstance(value, int | float) and not isinstance(value, bool)
    }
    if VAL_METRIC not in out:
        raise KeyError(f"training reported no validation NDCG@20 (got {sorted(metrics)})")
    return out

"""Translate a :class:`SweepConfig` into Ray Tune's search space, search algorithm and scheduler.

Trial configs are flat dicts of dotted ``TrainConfig`` keys plus ``student`` and ``variant``.
With ``baseline_tuning: base_config`` the no-distillation baselines (one per student, not tuned)
are fixed points the search algorithm runs first:
``points_to_evaluate`` for grid/random search, the first trials of the define-by-run space for
Optuna (Optuna would reject ``lam=0`` when it is outside a ``choice``). The default, ``rerun_best``,
runs them after the search instead (:func:`distillrec.sweep.tuner.run_tuned_baselines`).
"""

from __future__ import annotations

from typing import Any

from distillrec.contracts import BASELINE, DISTILL, VAL_METRIC
from distillrec.sweep.config import Distribution, SweepConfig
from distillrec.sweep.scheduler import PerStudentASHA

MODE = "max"  # VAL_METRIC is maximised


def tune_domain(dist: Distribution) -> Any:
    """One :class:`Distribution` as a Ray Tune domain."""
    from ray import tune

    if dist.kind == "grid":
        return tune.grid_search(list(dist.values))
    if dist.kind == "choice":
        return tune.choice(list(dist.values))
    low, high = dist.values
    return {"uniform": tune.uniform, "loguniform": tune.loguniform, "randint": tune.randint}[
        dist.kind
    ](low, high)


def baseline_points(cfg: SweepConfig, base_values: dict[str, Any]) -> list[dict[str, Any]]:
    """One fully specified no-distillation point per student (nothing left to sample).

    Every search key gets a legal value (the base config's value when it is legal), so the
    baseline shares the distillation trials' optimiser settings; the trial itself sets
    ``lam = ed_weight = 0`` and drops the teacher.
    """
    if not cfg.baseline or cfg.baseline_tuning != "base_config":
        return []  # rerun_best: the baselines run after the search (sweep.tuner)
    fixed = {key: dist.reference(base_values.get(key)) for key, dist in cfg.search_space.items()}
    return [{"student": s, "variant": BASELINE, **fixed} for s in cfg.students]


class OptunaSpace:
    """Define-by-run space for Optuna: the first trials are the baselines, then sampled ones.

    A module-level class (not a closure) so the Tuner state can be pickled for ``--resume``.
    """

    def __init__(self, cfg: SweepConfig, baselines: list[dict[str, Any]]) -> None:
        self.students = list(cfg.students)
        self.space = {k: (d.kind, d.values) for k, d in cfg.search_space.items()}
        self.baselines = baselines

    def __call__(self, trial: Any) -> dict[str, Any] | None:
        if trial.number < len(self.baselines):
            return dict(self.baselines[trial.number])
        trial.suggest_categorical("student", self.students)
        for key, (kind, values) in self.space.items():
            if kind == "choice":
                trial.suggest_categorical(key, list(values))
            elif kind == "randint":
                trial.suggest_int(key, values[0], values[1] - 1)
            else:
                trial.suggest_float(key, values[0], values[1], log=kind == "loguniform")
        return {"variant": DISTILL}


def build_search(
    cfg: SweepConfig, base_values: dict[str, Any], max_concurrent: int
) -> tuple[dict[str, Any], Any, int]:
    """Return ``(param_space, search_alg, num_samples)`` for one dataset's Tuner."""
    from ray import tune
    from ray.tune.search.basic_variant import BasicVariantGenerator

    points = baseline_points(cfg, base_values)
    if cfg.search.algorithm == "optuna":
        from optuna.samplers import TPESampler
        from ray.tune.search.optuna import OptunaSearch

        searcher = OptunaSearch(
            space=OptunaSpace(cfg, points),
            metric=VAL_METRIC,
            mode=MODE,
            sampler=TPESampler(seed=cfg.search.seed),
        )
        total = cfg.search.num_samples * len(cfg.students) + len(points)
        return {}, searcher, total
    param_space = {
        "student": tune.grid_search(list(cfg.students)),
        "variant": DISTILL,
        **{key: tune_domain(dist) for key, dist in cfg.search_space.items()},
    }
    search_alg = BasicVariantGenerator(
        points_to_evaluate=points,
        max_concurrent=max_concurrent,
        random_state=cfg.search.seed,
    )
    # Each preset point replaces one sample of ``num_samples`` (Ray's documented semantics).
    return param_space, search_alg, cfg.search.num_samples + len(points)


def build_scheduler(cfg: SweepConfig) -> Any:
    """ASHA on validation NDCG@20 per student, one step per epoch, baselines exempt (see
    :mod:`distillrec.sweep.scheduler`); None when disabled.

    Trials report epochs ``1..epochs-1`` and then their final metrics (after the model is
    logged) as step ``epochs``, so a rung can only stop a trial that still has epochs to go.
    """
    if cfg.scheduler.type == "none":
        return None
    return PerStudentASHA(
        time_attr="training_iteration",
        max_t=cfg.epochs,
        grace_period=min(cfg.scheduler.grace_period, cfg.epochs),
        reduction_factor=cfg.scheduler.reduction_factor,
    )

"""Early stopping that keeps the sweep's comparison fair: ASHA within each student, never baselines.

One Tuner runs every student of a dataset, but one ASHA over all of them would compare a Caser
trial's validation NDCG@20 with GRU4Rec's at the same epoch and stop the slower-learning student,
its no-distillation baseline included: the report would then have no row for that student. So:

- each student's distillation trials share their own ASHA brackets (a trial is only ever stopped
  for being worse than the same student's other settings);
- baseline trials are never stopped: they define the gain and always get the full epoch budget.

The first trial to reach a rung always continues, so every student keeps at least one distillation
trial that runs to the end (and reports test metrics).
"""

from __future__ import annotations

from typing import Any

from ray.tune.schedulers import ASHAScheduler, FIFOScheduler, TrialScheduler

from distillrec.contracts import BASELINE


class PerStudentASHA(FIFOScheduler):
    """One :class:`~ray.tune.schedulers.ASHAScheduler` per student, made on first use."""

    def __init__(self, **asha_kwargs: Any) -> None:
        super().__init__()
        self._asha_kwargs = asha_kwargs
        self._mode: str | None = None
        self._by_student: dict[str, ASHAScheduler] = {}
        self._tracked: set[str] = set()  # trial ids an ASHA knows (it fails on unknown ones)
        self._stopped = 0

    def set_search_properties(self, metric: str | None, mode: str | None, **spec: Any) -> bool:
        if metric:
            self._metric = metric
        if mode:
            self._mode = mode
        return True

    def asha_for(self, trial: Any) -> ASHAScheduler | None:
        """The student's ASHA, or None for a baseline trial (never stopped)."""
        if trial.config.get("variant") == BASELINE:
            return None
        student = str(trial.config.get("student"))
        if student not in self._by_student:
            asha = ASHAScheduler(**self._asha_kwargs)
            asha.set_search_properties(self._metric, self._mode)
            self._by_student[student] = asha
        return self._by_student[student]

    def on_trial_add(self, tune_controller: Any, trial: Any) -> None:
        asha = self.asha_for(trial)
        if asha is not None:
            asha.on_trial_add(tune_controller, trial)
            self._tracked.add(trial.trial_id)

    def on_trial_result(self, tune_controller: Any, trial: Any, result: dict) -> str:
        asha = self.asha_for(trial)
        if asha is None:
            return TrialScheduler.CONTINUE
        action = asha.on_trial_result(tune_controller, trial, result)
        self._stopped += action == TrialScheduler.STOP
        return action

    # ASHA forgets a trial on complete/remove and fails on a second call: only the first passes.
    def on_trial_complete(self, tune_controller: Any, trial: Any, result: dict) -> None:
        if trial.trial_id in self._tracked:
            self._tracked.discard(trial.trial_id)
            self.asha_for(trial).on_trial_complete(tune_controller, trial, result)

    def on_trial_remove(self, tune_controller: Any, trial: Any) -> None:
        if trial.trial_id in self._tracked:
            self._tracked.discard(trial.trial_id)
            self.asha_for(trial).on_trial_remove(tune_controller, trial)

    def debug_string(self) -> str:
        students = ", ".join(sorted(self._by_student))
        return f"ASHA per student ({students}): {self._stopped} stopped"

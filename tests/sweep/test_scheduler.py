"""Per-student ASHA: a weaker student is not stopped for trailing another student, baselines never
are, and a student's worse setting still is (the same sequence under one plain ASHA differs)."""

from __future__ import annotations

from types import SimpleNamespace

from ray.tune.schedulers import ASHAScheduler, TrialScheduler

from distillrec.sweep.scheduler import PerStudentASHA

CONTINUE, STOP = TrialScheduler.CONTINUE, TrialScheduler.STOP
ASHA_ARGS = {"time_attr": "training_iteration", "max_t": 5, "grace_period": 1}
ASHA_ARGS["reduction_factor"] = 2

# (trial id, student, variant, val NDCG@20 after epoch 1), in arrival order
EPOCH_ONE = [
    ("gru-a", "gru4rec", "dllm2rec", 0.080),
    ("caser-b", "caser", "dllm2rec", 0.030),
    ("caser-base", "caser", "baseline", 0.010),
    ("caser-d", "caser", "dllm2rec", 0.010),
]


def decisions(scheduler) -> dict[str, str]:
    scheduler.set_search_properties("val_ndcg_20", "max")
    out = {}
    for trial_id, student, variant, value in EPOCH_ONE:
        trial = SimpleNamespace(trial_id=trial_id, config={"student": student, "variant": variant})
        scheduler.on_trial_add(None, trial)
        result = {"training_iteration": 1, "val_ndcg_20": value}
        out[trial_id] = scheduler.on_trial_result(None, trial, result)
    return out


def test_asha_compares_trials_within_a_student_and_never_stops_baselines():
    assert decisions(PerStudentASHA(**ASHA_ARGS)) == {
        "gru-a": CONTINUE,
        "caser-b": CONTINUE,  # first Caser trial at this rung: nothing of its own to trail
        "caser-base": CONTINUE,  # baseline: always the full budget
        "caser-d": STOP,  # worse than Caser's other distillation setting
    }


def test_one_plain_asha_would_stop_the_slower_student_and_its_baseline():
    plain = decisions(ASHAScheduler(**ASHA_ARGS))
    assert plain["caser-b"] == STOP and plain["caser-base"] == STOP


def test_completed_and_removed_trials_are_forgotten_once():
    scheduler = PerStudentASHA(**ASHA_ARGS)
    scheduler.set_search_properties("val_ndcg_20", "max")
    trial = SimpleNamespace(trial_id="t", config={"student": "sasrec", "variant": "dllm2rec"})
    scheduler.on_trial_add(None, trial)
    result = {"training_iteration": 5, "val_ndcg_20": 0.05}
    scheduler.on_trial_complete(None, trial, result)
    scheduler.on_trial_complete(None, trial, result)  # a second notice is ignored, not a KeyError
    scheduler.on_trial_remove(None, trial)
    assert scheduler.debug_string() == "ASHA per student (sasrec): 0 stopped"

"""Sweep config validation, search-space translation and the trial's TrainConfig (fast)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from distillrec.config import validate
from distillrec.errors import UserError
from distillrec.sweep.config import Distribution, SweepConfig, load_sweep_config
from distillrec.sweep.space import BASELINE, DISTILL, OptunaSpace, baseline_points, build_search
from distillrec.sweep.trial import SweepTrial, threads_for, tune_metrics, variant_of

SWEEP_CONFIGS = sorted((Path(__file__).resolve().parents[2] / "configs" / "sweeps").glob("*.yaml"))


def make_config(**changes) -> SweepConfig:
    data = {
        "name": "unit",
        "datasets": [{"name": "ml-100k"}],
        "students": ["gru4rec", "sasrec"],
        "search_space": {
            "distill.lam": {"uniform": [0.2, 1.0]},
            "lr": {"loguniform": [1e-4, 1e-2]},
            "distill.candidate_topk": {"choice": [5, 10]},
        },
    }
    data.update(changes)
    return validate(SweepConfig, data, "unit")


@pytest.mark.parametrize("path", SWEEP_CONFIGS, ids=lambda p: p.name)
def test_shipped_sweep_configs_validate(path: Path) -> None:
    cfg = load_sweep_config(path)
    assert cfg.students and cfg.datasets
    for line in path.read_text().splitlines():  # every key has a one-line comment
        if line.strip() and not line.lstrip().startswith(("#", "- ")) and ":" in line:
            assert "#" in line, f"{path.name}: no comment on {line!r}"


def test_shipped_configs_include_the_three_issue_configs() -> None:
    names = {p.name for p in SWEEP_CONFIGS}
    assert {"ml-100k.yaml", "amazon-games-2018.yaml", "ml-100k-smoke.yaml"} <= names


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({}, "exactly one"),
        ({"uniform": [0.1, 0.5], "choice": [1]}, "exactly one"),
        ({"uniform": [0.5, 0.1]}, "low < high"),
        ({"loguniform": [0.0, 0.1]}, "low > 0"),
        ({"grid": []}, "at least one"),
    ],
)
def test_bad_distributions_fail(data: dict, message: str) -> None:
    with pytest.raises(UserError, match=message):
        validate(Distribution, data, "dist")


def test_reference_values_stay_inside_the_distribution() -> None:
    assert Distribution(uniform=(0.2, 1.0)).reference(0.8) == 0.8
    assert Distribution(uniform=(0.2, 1.0)).reference(0.0) == pytest.approx(0.6)
    assert Distribution(loguniform=(1e-4, 1e-2)).reference(None) == pytest.approx(1e-3)
    assert Distribution(choice=[5, 20]).reference(10) == 5
    assert Distribution(randint=(1, 4)).reference(4) == 1


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"search": {"algorithm": "optuna"}, "search_space": {"lr": {"grid": [0.1]}}}, "optuna"),
        ({"search": {"algorithm": "grid"}}, "grid dimensions only"),
        ({"base": {"epochs": 3}}, "set by the sweep"),
        ({"search_space": {"student": {"choice": ["gru4rec"]}}}, "set by the sweep"),
        ({"students": ["gru4rec", "gru4rec"]}, "twice"),
        ({"datasets": [{"name": "../x"}]}, "may only use"),
        ({"resources": {"cpus_per_trial": 0}}, "greater than 0"),
        ({"bogus": 1}, "field bogus: unknown key"),
    ],
)
def test_bad_sweep_configs_fail_with_the_field(changes: dict, message: str) -> None:
    with pytest.raises(UserError, match=message):
        make_config(**changes)


def test_sweep_command_bad_config_exits_2(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from distillrec.cli import app

    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\ndatasets: [{name: ml-100k}]\nstudents: [gru4rec]\nepochs: 0\n")
    result = CliRunner().invoke(app, ["sweep", "--config", str(bad)])
    assert result.exit_code == 2
    assert "epochs" in result.output and "Traceback" not in result.output


def test_random_search_has_one_baseline_per_student() -> None:
    cfg = make_config(
        search={"algorithm": "random", "num_samples": 3}, baseline_tuning="base_config"
    )
    base_values = {"distill.lam": 0.8, "lr": 0.001, "distill.candidate_topk": 20}
    points = baseline_points(cfg, base_values)
    assert [p["student"] for p in points] == ["gru4rec", "sasrec"]
    assert all(p["variant"] == BASELINE for p in points)
    assert points[0]["lr"] == 0.001 and points[0]["distill.candidate_topk"] == 5
    assert points[0]["distill.lam"] == 0.0  # what the baseline trains with, shown in the table
    param_space, search_alg, num_samples = build_search(cfg, base_values, max_concurrent=2)
    assert param_space["student"] == {"grid_search": ["gru4rec", "sasrec"]}
    assert param_space["variant"] == DISTILL
    assert num_samples == 3 + 2  # each preset point replaces one sample (Ray's semantics)
    assert search_alg._points_to_evaluate == points


def test_live_table_shows_variant_searched_settings_and_val_ndcg() -> None:
    from distillrec.sweep.progress import live_table

    reporter = live_table(make_config())
    assert reporter._parameter_columns == {
        "student": "student",
        "variant": "variant",
        "distill.lam": "lam",
        "lr": "lr",
        "distill.candidate_topk": "candidate_topk",
    }
    assert "val_ndcg_20" in reporter._metric_columns


def test_no_baseline_when_disabled() -> None:
    assert baseline_points(make_config(baseline=False), {}) == []


def test_tuned_baselines_run_after_the_search_with_the_best_trials_settings() -> None:
    from types import SimpleNamespace

    from distillrec.sweep.tuner import tuned_baseline_settings

    cfg = make_config(search={"algorithm": "random", "num_samples": 3})
    assert cfg.baseline_tuning == "rerun_best" and baseline_points(cfg, {}) == []

    def result(student, lr, val, finished=True, variant=DISTILL):
        config = {"student": student, "variant": variant, "lr": lr, "distill.lam": 0.5}
        metrics = {"val_ndcg_20": val, **({"test_ndcg_20": 0.1} if finished else {})}
        return SimpleNamespace(config=config, metrics=metrics)

    grid = [
        result("gru4rec", 0.001, 0.05),
        result("gru4rec", 0.004, 0.07),
        result("gru4rec", 0.009, 0.09, finished=False),  # stopped by ASHA: not a candidate
        result("sasrec", 0.002, 0.06),
        result("sasrec", 0.003, 0.08, variant=BASELINE),
    ]
    assert tuned_baseline_settings(grid) == {"gru4rec": {"lr": 0.004}, "sasrec": {"lr": 0.002}}


def test_optuna_space_runs_baselines_first_then_samples() -> None:
    import optuna

    cfg = make_config(
        search={"algorithm": "optuna", "num_samples": 2}, baseline_tuning="base_config"
    )
    points = baseline_points(cfg, {})
    space = OptunaSpace(cfg, points)
    study = optuna.create_study(direction="maximize")
    for number in range(2):
        trial = study.ask()
        assert space(trial) == points[number] and trial.params == {}
        study.tell(trial, 0.1)
    for _ in range(3):
        trial = study.ask()
        assert space(trial) == {"variant": DISTILL}
        assert trial.params["student"] in {"gru4rec", "sasrec"}
        assert 0.2 <= trial.params["distill.lam"] <= 1.0
        assert 1e-4 <= trial.params["lr"] <= 1e-2
        assert trial.params["distill.candidate_topk"] in {5, 10}
        study.tell(trial, 0.2)


def make_trial(teacher: str | None = "/t", cpus: float = 0.5) -> SweepTrial:
    return SweepTrial(
        dataset_path="/data/ml-100k",
        teacher=teacher,
        base={"hidden_size": 32, "distill.gamma_position": 0.5},
        epochs=2,
        cpus_per_trial=cpus,
        tracking_uri="sqlite:////tmp/x.db",
        experiment="e",
        parent_run_id="p",
    )


def train_config(trial: SweepTrial, config: dict):
    from distillrec.config import apply_overrides
    from distillrec.training import TrainConfig

    return validate(TrainConfig, apply_overrides({}, trial.train_overrides(config)), "trial")


def test_distillation_trial_gets_sampled_values_and_the_sweep_budget() -> None:
    config = {"student": "caser", "variant": DISTILL, "distill.lam": 0.4, "lr": 0.003}
    tc = train_config(make_trial(), config)
    assert (tc.student, tc.epochs, tc.hidden_size, tc.lr) == ("caser", 2, 32, 0.003)
    assert tc.distill.lam == 0.4 and tc.distill.gamma_position == 0.5
    assert tc.teacher == "/t" and tc.num_threads == 1
    assert tc.mlflow.tracking_uri == "sqlite:////tmp/x.db" and tc.mlflow.experiment == "e"
    assert variant_of(tc) == DISTILL


def test_baseline_trial_drops_the_teacher_and_distillation() -> None:
    config = {"student": "caser", "variant": BASELINE, "distill.lam": 0.4, "lr": 0.003}
    tc = train_config(make_trial(cpus=2), config)
    assert tc.teacher is None and tc.distill.lam == 0 and tc.distill.ed_weight == 0
    assert tc.lr == 0.003 and tc.num_threads == 2
    assert variant_of(tc) == BASELINE
    no_teacher = train_config(make_trial(teacher=None), {**config, "variant": DISTILL})
    assert variant_of(no_teacher) == BASELINE


def test_threads_follow_the_cpu_share() -> None:
    assert [threads_for(c) for c in (0.25, 1, 1.5, 2)] == [1, 1, 1, 2]


def test_tune_metrics_use_mlflow_names() -> None:
    got = tune_metrics({"epoch": 1, "val_ndcg@20": 0.1, "val_hr@20": 0.2, "note": "x"})
    assert got == {"epoch": 1.0, "val_ndcg_20": 0.1, "val_hr_20": 0.2}
    with pytest.raises(KeyError, match="NDCG@20"):
        tune_metrics({"train_loss": 1.0})


def test_unknown_search_key_is_named(tmp_path: Path) -> None:
    from distillrec.sweep.tuner import check_train_keys

    cfg = make_config(search_space={"distill.lamda": {"uniform": [0.1, 0.2]}})
    with pytest.raises(UserError, match="search_space.distill.lamda"):
        check_train_keys(cfg, tmp_path)
    with pytest.raises(UserError, match="gamma"):
        check_train_keys(make_config(base={"distill.gamma_position": -1}), tmp_path)


def test_teacher_for_another_dataset_is_refused(tmp_path: Path) -> None:
    from distillrec.sweep.config import DatasetSpec
    from distillrec.sweep.tuner import check_teacher

    (tmp_path / "manifest.json").write_text(json.dumps({"dataset_fingerprint": "abc"}))
    spec = DatasetSpec(name="ml-100k", teacher=str(tmp_path))
    assert check_teacher(spec, "abc") == str(tmp_path.resolve())
    with pytest.raises(UserError, match="fingerprint"):
        check_teacher(spec, "other")


def test_resume_without_an_earlier_sweep_fails(tmp_path: Path) -> None:
    from distillrec.sweep.tuner import pick_experiment_path

    cfg = make_config(storage_path=str(tmp_path))
    with pytest.raises(UserError, match="no earlier sweep"):
        pick_experiment_path(cfg, "ml-100k", resume=True)
    fresh = pick_experiment_path(cfg, "ml-100k", resume=False)
    fresh.mkdir(parents=True)
    (tmp_path / "unit-ml-100k-small-20260101-000000").mkdir()  # another dataset
    assert pick_experiment_path(cfg, "ml-100k", resume=True) == fresh


def test_any_sweep_checks_its_inputs_in_one_line_before_ray_starts(monkeypatch, tmp_path) -> None:
    """``run_sweep`` itself checks the data and teacher before Ray starts, whoever calls it (the
    command, the demo, the benchmark); before, only the command did, and the demo started Ray."""
    from distillrec import runtime
    from distillrec.sweep.tuner import run_sweep

    def no_ray(*args, **kwargs):
        raise AssertionError("Ray was started before the sweep's inputs were checked")

    monkeypatch.setattr(runtime, "ensure_ray", no_ray)
    missing = tmp_path / "not-prepared"
    cfg = make_config(
        datasets=[{"name": "ml-100k", "path": str(missing)}],
        mlflow={"tracking_uri": f"sqlite:///{tmp_path / 'mlflow.db'}"},
    )
    with pytest.raises(UserError) as err:
        run_sweep(cfg)
    assert str(missing) in str(err.value) and "\n" not in str(err.value)


def test_a_dataset_sweep_uses_the_checked_inputs_without_checking_again(monkeypatch) -> None:
    from distillrec.sweep import tuner
    from distillrec.sweep.config import DatasetSpec

    def checked_twice(*args, **kwargs):
        raise AssertionError("an input was checked a second time")

    class Reached(Exception):
        pass

    def stop(cfg) -> None:
        raise Reached

    for name in ("dataset_fingerprint", "check_teacher", "check_train_keys", "check_inputs"):
        monkeypatch.setattr(tuner, name, checked_twice)
    monkeypatch.setattr(tuner, "check_resources", stop)  # the first step after the inputs
    inputs = tuner.DatasetInputs(
        spec=DatasetSpec(name="ml-100k"),
        dataset_path=Path("/data/ml-100k"),
        fingerprint="abc",
        teacher=None,
        base_values={},
    )
    with pytest.raises(Reached):
        tuner.run_dataset_sweep(make_config(), inputs)

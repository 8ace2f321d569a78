"""Study config validation and the paired overrides each run gets (fast, no Ray)."""

from __future__ import annotations

import pytest

from distillrec.config import validate
from distillrec.distill.variants import BUILTIN_VARIANTS, STUDENT_PRESETS
from distillrec.errors import UserError
from distillrec.study.config import StudyConfig
from distillrec.sweep.trial import SweepTrial


def make(**changes) -> StudyConfig:
    data = {
        "name": "unit",
        "datasets": [{"name": "ml-100k", "teacher": "artifacts/teacher/ml-100k"}],
        "students": ["gru4rec", "dros"],
        "variants": list(BUILTIN_VARIANTS),
    }
    data.update(changes)
    return validate(StudyConfig, data, "unit")


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"variants": ["dllm2rec"]}, "must include baseline"),
        ({"variants": ["baseline", "nope"]}, "unknown variants"),
        ({"students": ["bert4rec"]}, "unknown students"),
        ({"custom_variants": {"lr_up": {"lr": 0.01}}}, "not distillation settings"),
        ({"custom_variants": {"rd_only": {"distill.lam": 1}}}, "built in"),
        ({"base": {"seed": 3}}, "set by the study"),
        ({"student_presets": {"big": {"student": "sasrec", "distill.lam": 0}}}, "belong to"),
        ({"datasets": [{"name": "ml-100k"}]}, "no teacher"),
        ({"seeds": [0, 0]}, "listed twice"),
        (
            {"base": {"dros.alpha": 0.5}},
            "base key dros.alpha=0.5 conflicts with student preset 'gru4rec' "
            r"\(dros.alpha=0.0\), which would override it; .* \[\+1 more\]$",
        ),
        ({"base": {"dros": {"alpha": 0.5}}}, "conflicts with student preset 'gru4rec'"),
        ({"base": {"mlflow": {"experiment": "x"}}}, "set by the study"),
        ({"custom_variants": {"wide": {"hidden_size": 64}}}, "not distillation settings"),
    ],
)
def test_bad_study_configs_fail_in_one_line(changes: dict, message: str) -> None:
    with pytest.raises(UserError, match=message):
        make(**changes)


def test_every_run_of_a_cell_differs_only_in_distillation_settings() -> None:
    cfg = make(
        base={"lr": 0.002, "hidden_size": 16},
        custom_variants={"flat": {"distill.confidence_temperature": 10.0}},
        variants=[*BUILTIN_VARIANTS, "flat"],
    )
    assert cfg.num_runs == 1 * 2 * 8 * 3
    trial = SweepTrial(
        dataset_path="data/ml-100k",
        teacher="/t",
        base=dict(cfg.base),
        epochs=2,
        cpus_per_trial=1,
        tracking_uri="sqlite:///x.db",
        experiment="e",
        parent_run_id="p",
        variants=cfg.variant_overrides(),
        student_presets=cfg.presets(),
    )
    for student in cfg.students:
        runs = {
            v: trial.train_overrides({"student": student, "variant": v, "seed": 1})
            for v in cfg.variants
        }
        for overrides in runs.values():
            assert overrides["seed"] == 1 and overrides["lr"] == 0.002
            assert overrides["student"] == STUDENT_PRESETS[student]["student"]
            assert overrides["dros.alpha"] == STUDENT_PRESETS[student]["dros.alpha"]
            shared = {k: v for k, v in overrides.items() if k != "teacher"}
            shared = {k: v for k, v in shared.items() if not k.startswith("distill.")}
            assert shared == {
                k: v
                for k, v in runs["dllm2rec"].items()
                if k != "teacher" and not k.startswith("distill.")
            }
        assert runs["baseline"]["teacher"] is None and runs["baseline"]["distill.lam"] == 0.0
        assert runs["no_confidence"]["distill.gamma_confidence"] == 0.0
        assert runs["flat"]["distill.confidence_temperature"] == 10.0
        assert runs["dllm2rec"]["teacher"] == "/t"


def test_nested_settings_are_dotted_keys_like_a_sweeps() -> None:
    """``base: {distill: {lam: 0.5}}`` (YAML nesting or ``base.distill.lam=0.5``) is the key
    ``distill.lam``: each run's overrides are merged key by key, so a variant's ``distill.lam``
    replaces only that key and every run still validates with the base's other settings."""
    from distillrec.config import apply_overrides
    from distillrec.training import TrainConfig

    cfg = make(
        base={"distill": {"lam": 0.5, "ed_weight": 0.3}, "hidden_size": 16},
        custom_variants={"flat": {"distill": {"confidence_temperature": 10.0}}},
        student_presets={"wide": {"student": "sasrec", "dros": {"alpha": 0.0}}},
        students=["wide"],
        variants=["baseline", "dllm2rec", "flat"],
    )
    assert cfg.base == {"distill.lam": 0.5, "distill.ed_weight": 0.3, "hidden_size": 16}
    assert cfg.custom_variants == {"flat": {"distill.confidence_temperature": 10.0}}
    assert cfg.student_presets == {"wide": {"student": "sasrec", "dros.alpha": 0.0}}
    trial = SweepTrial(
        dataset_path="data/ml-100k",
        teacher="/t",
        base=dict(cfg.base),
        epochs=2,
        cpus_per_trial=1,
        tracking_uri="sqlite:///x.db",
        experiment="e",
        parent_run_id="p",
        variants=cfg.variant_overrides(),
        student_presets=cfg.presets(),
    )
    runs = {}
    for variant in cfg.variants:  # baseline first: it must not leak lam 0 into the others
        data = apply_overrides({}, trial.train_overrides({"student": "wide", "variant": variant}))
        runs[variant] = validate(TrainConfig, data, "unit")
    assert runs["baseline"].distill.lam == 0.0 and runs["baseline"].distill.ed_weight == 0.0
    for variant in ("dllm2rec", "flat"):
        assert runs[variant].distill.lam == 0.5 and runs[variant].distill.ed_weight == 0.3
    assert runs["flat"].distill.confidence_temperature == 10.0
    assert {r.hidden_size for r in runs.values()} == {16}


def test_a_base_key_equal_to_the_presets_is_no_conflict() -> None:
    cfg = make(students=["dros"], base={"dros.alpha": 1.0})
    assert cfg.presets()["dros"]["dros.alpha"] == 1.0
    assert not cfg.allow_failed_trials  # failed runs fail the study by default

"""Config errors name where the bad value came from (override or file) and suggest the key meant.

Fast: no Ray. The sweep test proves its keys are checked before Ray would start.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from distillrec.config import check_dotted_key, field_names, load_config
from distillrec.errors import UserError
from distillrec.sweep.config import SweepConfig, load_sweep_config
from distillrec.training import TrainConfig

ROOT = Path(__file__).resolve().parents[1]
TRAIN_YAML = ROOT / "configs" / "train" / "ml-100k-sasrec.yaml"
SMOKE_SWEEP = ROOT / "configs" / "sweeps" / "ml-100k-smoke.yaml"


def error_of(func, *args) -> str:
    with pytest.raises(UserError) as err:
        func(*args)
    message = str(err.value)
    assert "\n" not in message
    return message


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ("epohcs=5", "override epohcs=5: field epohcs: unknown key (did you mean 'epochs'?)"),
        (
            "distill.lamda=1",
            "override distill.lamda=1: field distill.lamda: unknown key (did you mean 'lam'?)",
        ),
        ("lr=-1", "override lr=-1: field lr: Input should be greater than 0 (got -1)"),
        ("dros.alpha=x", "override dros.alpha=x: field dros.alpha: Input should be a valid"),
    ],
)
def test_an_override_typo_names_the_override_not_the_file(override: str, expected: str) -> None:
    message = error_of(load_config, TrainConfig, TRAIN_YAML, [override])
    assert message.startswith(expected), message
    assert str(TRAIN_YAML) not in message


def test_a_typo_in_the_file_names_the_file_and_suggests(tmp_path: Path) -> None:
    path = tmp_path / "train.yaml"
    path.write_text("student: gru4rec\ndistill:\n  gama_position: 0.2\n")
    message = error_of(load_config, TrainConfig, path, ["epochs=3"])
    assert message == (
        f"{path}: field distill.gama_position: unknown key (did you mean 'gamma_position'?)"
    )


def test_no_close_key_lists_the_valid_ones_when_few(tmp_path: Path) -> None:
    message = error_of(load_config, TrainConfig, None, ["dros.zzz=1"])
    assert message.endswith("unknown key (valid: alpha, beta)")


def test_field_names_follow_nested_models_and_lists() -> None:
    assert "lam" in field_names(TrainConfig, ("distill",))
    assert field_names(SweepConfig, ("datasets", 0)) == ["name", "path", "teacher"]
    assert field_names(TrainConfig, ("lr",)) == []
    assert check_dotted_key(TrainConfig, "distill.lam") is None
    assert check_dotted_key(TrainConfig, "distil.lam") == (
        "unknown key 'distil' (did you mean 'distill'?)"
    )
    assert check_dotted_key(TrainConfig, "lr.x") == "lr has no keys below it"


def test_a_list_item_typo_is_suggested(tmp_path: Path) -> None:
    path = tmp_path / "sweep.yaml"
    path.write_text("name: x\ndatasets: [{nmae: ml-100k}]\nstudents: [gru4rec]\n")
    assert "did you mean 'name'?" in error_of(load_sweep_config, path)


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        (
            ["base.hidden_sise=3"],
            "override base.hidden_sise=3: field base.hidden_sise: unknown key 'hidden_sise' "
            "(did you mean 'hidden_size'?)",
        ),
        (
            ["base.distill.lamm=3"],
            "override base.distill.lamm=3: field base.distill.lamm: unknown key 'lamm' in distill "
            "(did you mean 'lam'?)",
        ),
        (["base.lr=-1"], "override base.lr=-1: field base.lr: Input should be greater than 0"),
    ],
)
def test_sweep_base_keys_are_checked_when_the_config_loads(overrides, expected) -> None:
    message = error_of(load_sweep_config, SMOKE_SWEEP, overrides)
    assert message.startswith(expected), message


def test_sweep_base_typo_in_the_file_is_named_with_the_file(tmp_path: Path) -> None:
    path = tmp_path / "sweep.yaml"
    path.write_text("name: x\ndatasets: [{name: ml-100k}]\nstudents: [gru4rec]\n")
    path.write_text(path.read_text() + "base: {hiden_size: 8}\n")
    assert error_of(load_sweep_config, path) == (
        f"{path}: field base.hiden_size: unknown key 'hiden_size' (did you mean 'hidden_size'?)"
    )
    nested = load_sweep_config(SMOKE_SWEEP, ["base.distill.lam=0.5"])
    assert nested.base["distill.lam"] == 0.5  # an override of a dotted key is one key


def test_sweep_with_a_bad_base_key_exits_2_before_ray_starts(monkeypatch, tmp_path: Path) -> None:
    from distillrec import runtime
    from distillrec.cli import app

    def no_ray(*args, **kwargs):
        raise AssertionError("Ray was started before the config was checked")

    monkeypatch.setattr(runtime, "ensure_ray", no_ray)
    result = CliRunner().invoke(app, ["sweep", "-c", str(SMOKE_SWEEP), "base.pateince=2"])
    assert result.exit_code == 2, result.output
    assert (
        "override base.pateince=2" in result.output and "did you mean 'patience'?" in result.output
    )


def test_a_missing_teacher_names_the_command_that_creates_it(tmp_path: Path) -> None:
    from cli_parse import parse, words

    from distillrec.sweep.config import DatasetSpec
    from distillrec.sweep.tuner import check_teacher

    spec = DatasetSpec(name="ml-100k", teacher=str(tmp_path / "teacher"))
    message = error_of(check_teacher, spec, "fingerprint")
    assert "does not exist" in message and "null" in message
    command = message.split("`")[1]
    assert command.startswith("distillrec teacher infer ") and f"--out {spec.teacher}" in command
    ctx = parse(words(command))  # the advice is a command the CLI accepts
    assert ctx.params["out"] == spec.teacher and (ROOT / ctx.params["config"]).is_file()
    assert list(ctx.params["overrides"]) == ["dataset=data/ml-100k"]


def test_the_smoke_sweep_documents_how_its_teacher_is_made() -> None:
    from cli_parse import parse, words

    teacher = load_sweep_config(SMOKE_SWEEP).datasets[0].teacher
    lines = [line for line in SMOKE_SWEEP.read_text().splitlines() if "distillrec teacher" in line]
    commands = [line.split("`")[1] for line in lines if f"--out {teacher}" in line]
    assert commands, f"{SMOKE_SWEEP.name} does not say which command writes {teacher}"
    parse(words(commands[0]))

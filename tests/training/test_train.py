"""``train()`` end to end on real MLflow: determinism, teacher use, refusals, CLI, packaging."""

from __future__ import annotations

import json
from pathlib import Path

import mlflow
import pytest
from typer.testing import CliRunner

from distillrec.errors import UserError
from distillrec.training import TrainConfig, train
from distillrec.training.packaging import load_student


def tiny_config(dataset: Path, tmp_path: Path, **overrides) -> TrainConfig:
    base = {
        "dataset": str(dataset),
        "student": "gru4rec",
        "hidden_size": 16,
        "epochs": 2,
        "batch_size": 64,
        "lr": 0.01,
        "num_threads": 1,
        "output_dir": str(tmp_path / "runs"),
        "mlflow": {"log_model": False},
    }
    base.update(overrides)
    return TrainConfig.model_validate(base)


def test_same_seed_same_metrics(tiny_dataset, tmp_path, mlflow_store):
    cfg = tiny_config(tiny_dataset, tmp_path, student="sasrec", seed=3)
    first, second = train(cfg), train(cfg)
    assert first.val == second.val and first.test == second.test
    assert [r["train_loss"] for r in first.history] == [r["train_loss"] for r in second.history]
    other = train(cfg.model_copy(update={"seed": 4}))
    assert [r["train_loss"] for r in other.history] != [r["train_loss"] for r in first.history]


def test_train_with_a_partial_teacher_logs_everything(
    tiny_dataset, tiny_teacher, tmp_path, mlflow_store
):
    cfg = tiny_config(tiny_dataset, tmp_path, student="caser", mlflow={"log_model": True})
    reports: list[tuple[int, dict]] = []
    result = train(cfg, teacher_dir=tiny_teacher, report_fn=lambda e, m: reports.append((e, m)))
    assert [e for e, _ in reports] == [1, 2] and "val_ndcg@20" in reports[0][1]
    assert 0.5 < result.rd_coverage < 0.9
    assert 1 <= result.best_epoch <= 2 and set(result.test) >= {"hr@20", "ndcg@20"}
    run = mlflow.get_run(result.mlflow_run_id)
    assert run.data.params["distill.lam"] == "0.8"
    assert run.data.tags["distillation"] == "rd+ed"
    assert run.data.tags["teacher_artifact"] == str(tiny_teacher.resolve())
    assert run.data.tags["dataset_fingerprint"] and "test_ndcg_20" in run.data.metrics
    history = mlflow.MlflowClient().get_metric_history(result.mlflow_run_id, "val_ndcg_20")
    assert [m.step for m in history] == [1, 2]
    packaged = load_student(result.model_uri)
    assert packaged.student_name == "caser" and packaged.model.teacher_fusion is None
    (ranked,) = packaged.recommend([[1, 2, 3, 4, 5, 6, 7]], k=5)
    assert len(ranked) == 5 and not {i for i, _ in ranked} & {3, 4, 5, 6, 7}
    assert (Path(result.model_dir) / "student.safetensors").is_file()
    # per-example test ranks (what a study's paired bootstrap resamples) agree with the metrics
    from distillrec.ranking_metrics import per_example_metric
    from distillrec.training.tracking import load_per_example_ranks

    ranks = load_per_example_ranks(mlflow_store, result.mlflow_run_id, "test")
    assert ranks["example_id"].tolist() == result.test_example_ids.tolist()
    assert per_example_metric(ranks["rank"].to_numpy(), "ndcg@20").mean() == pytest.approx(
        result.test["ndcg@20"]
    )
    assert run.data.tags["teacher_manifest_sha256"]


def test_teacher_for_another_dataset_is_refused(tiny_dataset, tiny_teacher, tmp_path, mlflow_store):
    manifest = json.loads((tiny_teacher / "manifest.json").read_text())
    other = tmp_path / "other-teacher"
    other.mkdir()
    for name in ("rankings.parquet", "item_embeddings.safetensors"):
        (other / name).write_bytes((tiny_teacher / name).read_bytes())
    (other / "manifest.json").write_text(json.dumps({**manifest, "dataset_fingerprint": "abc"}))
    with pytest.raises(UserError) as err:
        train(tiny_config(tiny_dataset, tmp_path), teacher_dir=other)
    assert "fingerprint" in str(err.value) and "\n" not in str(err.value)


def test_cli_trains_writes_json_and_rejects_bad_config(tiny_dataset, tmp_path, mlflow_store):
    from distillrec.cli import app

    config = tmp_path / "train.yaml"
    config.write_text(f"dataset: {tiny_dataset}\nstudent: gru4rec\nnum_threads: 1\n")
    out = tmp_path / "out.json"
    args = [
        "train",
        "-c",
        str(config),
        "epochs=2",
        "patience=2",
        "hidden_size=8",
        "distill.lam=0",
        f"output_dir={tmp_path / 'runs'}",
        "mlflow.log_model=false",
        "--output-json",
        str(out),
    ]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    summary = json.loads(out.read_text())
    assert summary["best_epoch"] in (1, 2) and "ndcg@20" in summary["test"]
    lines = result.output.splitlines()
    epochs = [line for line in lines if line.startswith("epoch ")]
    assert [line.split()[1] for line in epochs] == ["1/2", "2/2"], result.output
    assert all("loss " in line and "val NDCG@20 " in line and " s" in line for line in epochs)
    assert "*best" in epochs[0]  # the first epoch is always the best so far
    assert f"best epoch {summary['best_epoch']}" in result.output
    assert f"test  NDCG@20 {summary['test']['ndcg@20']:.4f}" in result.output
    assert summary["mlflow_run_id"] in result.output
    bad = CliRunner().invoke(app, ["train", "--config", str(config), "distill.lamda=1"])
    assert bad.exit_code == 2
    assert "override distill.lamda=1: field distill.lamda: unknown key" in bad.output
    assert "did you mean 'lam'?" in bad.output and str(config) not in bad.output
    unknown = CliRunner().invoke(app, ["train", "--config", str(config), "student=bert4rec"])
    assert unknown.exit_code == 2 and "gru4rec" in unknown.output


@pytest.mark.integration
def test_one_epoch_on_ml100k_beats_popularity(ml100k, tmp_path, mlflow_store):
    cfg = tiny_config(
        ml100k,
        tmp_path,
        student="sasrec",
        hidden_size=64,
        epochs=1,
        batch_size=256,
        lr=0.001,
        mlflow={"log_model": True},
    )
    result = train(cfg)
    popularity = train(cfg.model_copy(update={"student": "popularity"}))
    assert result.best_epoch == 1 and popularity.best_epoch == 0
    assert 0 < popularity.test["ndcg@20"] < result.test["ndcg@20"]
    packaged = load_student(result.model_uri)
    assert packaged.num_items == 1682 and packaged.max_history == 10
    assert len(packaged.items) == 1682

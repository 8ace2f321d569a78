"""NaN/inf never passes for a result: ranking, training and registration refuse it."""

from __future__ import annotations

import mlflow
import pytest
import torch
from reliability_helpers import run_cli, train_args, user_error_line

from distillrec.ranking_metrics import metrics_from_ranks
from distillrec.training.finite import NonFiniteError, check_scores
from distillrec.training.metrics import target_ranks


def test_nan_scores_rank_last_not_first():
    scores = torch.full((3, 50), float("nan"))
    scores[2] = torch.arange(50.0)  # a sane row: target 49 ranks first
    scores[1, 7] = float("inf")
    ranks = target_ranks(scores, torch.tensor([0, 7, 49]))
    assert ranks.tolist() == [50, 50, 0]
    assert metrics_from_ranks(ranks)["hr@20"] == pytest.approx(1 / 3)
    with pytest.raises(NonFiniteError, match="val scores: 100 of 150"):
        check_scores(scores, "val")


@pytest.mark.integration
def test_nan_model_stops_the_run_and_is_never_logged(ml100k, tmp_path):
    """The issue's probe: ``dros.beta=1e-45`` makes the loss NaN (before: HR@20 = 1.0, logged)."""
    result = run_cli(*train_args(ml100k, tmp_path, "epochs=1", "dros.beta=1e-45"), cwd=tmp_path)
    line = user_error_line(result)
    assert "nan" in line and "run stopped" in line
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())
    client = mlflow.MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    runs = client.search_runs([e.experiment_id for e in client.search_experiments()])
    assert [r.info.status for r in runs] == ["FAILED"]
    assert "test_hr_20" not in runs[0].data.metrics
    assert not client.search_logged_models([e.experiment_id for e in client.search_experiments()])

"""``make mlflow-ui`` honours MLFLOW_TRACKING_URI and opens the sweeps experiment, sorted."""

from __future__ import annotations

from distillrec.mlflow_ui import experiment_view, main, ui_command
from distillrec.runtime import tracking_uri


def test_ui_serves_the_store_in_mlflow_tracking_uri(mlflow_store, tmp_path):
    from mlflow import MlflowClient

    assert tracking_uri() == mlflow_store  # the env var set by the fixture wins
    command = ui_command(tracking_uri(), "127.0.0.1", 5123)
    assert command[command.index("--backend-store-uri") + 1] == mlflow_store
    assert command[command.index("--default-artifact-root") + 1] == str(tmp_path / "mlartifacts")
    assert command[-4:] == ["--host", "127.0.0.1", "--port", "5123"]

    assert experiment_view(mlflow_store, "distillrec-sweeps") == "/"  # nothing to open yet
    experiment = MlflowClient(mlflow_store).create_experiment("distillrec-sweeps")
    view = experiment_view(mlflow_store, "distillrec-sweeps")
    assert view.startswith(f"/#/experiments/{experiment}/runs?")
    assert "orderByKey=metrics.%60best_val_ndcg_20%60&orderByAsc=false" in view


def test_a_tracking_server_is_pointed_at_not_started(monkeypatch, capsys):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:9")  # nothing listens: no lookup
    monkeypatch.setattr("distillrec.mlflow_ui.experiment_view", lambda uri, name: "/")
    main([])
    assert "tracking server; open http://127.0.0.1:9/" in capsys.readouterr().out

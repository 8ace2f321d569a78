"""``make mlflow-ui``: the MLflow UI on the project's store, opened where a researcher starts.

The store is the one every command uses (``runtime.tracking_uri``: ``MLFLOW_TRACKING_URI`` or the
local ``sqlite:///mlflow.db``); new experiments created from the UI keep their artifacts beside a
sqlite database, like ``runtime.setup_mlflow``. The printed address opens the sweeps experiment
with its runs sorted by the selection metric (``best_val_ndcg_20``, best first); docs/sweeps.md
describes the compare view. A tracking *server* (``http://...``) already is a UI: it is printed,
not started again.

    python -m distillrec.mlflow_ui [--port 5000] [--experiment distillrec-sweeps]
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from urllib.parse import quote

from distillrec.runtime import DEFAULT_ARTIFACT_ROOT, tracking_uri
from distillrec.sweep.config import DEFAULT_EXPERIMENT

SORT_METRIC = "best_val_ndcg_20"  # the champion's selection metric, on every finished trial run


def experiment_view(uri: str, experiment: str) -> str:
    """The UI path (after the host) of ``experiment``'s runs, best validation NDCG@20 first;
    the UI's home page when the experiment does not exist yet."""
    from mlflow import MlflowClient

    found = MlflowClient(tracking_uri=uri).get_experiment_by_name(experiment)
    if found is None:
        return "/"
    order = quote(f"metrics.`{SORT_METRIC}`")
    return f"/#/experiments/{found.experiment_id}/runs?orderByKey={order}&orderByAsc=false"


def ui_command(uri: str, host: str, port: int) -> list[str]:
    """``mlflow ui`` on ``uri``; artifacts of UI-made experiments beside a sqlite database."""
    command = [sys.executable, "-m", "mlflow", "ui", "--backend-store-uri", uri]
    if uri.startswith("sqlite:///"):
        root = Path(uri.removeprefix("sqlite:///")).parent / DEFAULT_ARTIFACT_ROOT
        command += ["--default-artifact-root", str(root)]
    return command + ["--host", host, "--port", str(port)]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1", help="bind address (loopback by default)")
    parser.add_argument("--port", type=int, default=5000)
    parser.add_argument("--experiment", default=DEFAULT_EXPERIMENT, help="experiment to open")
    args = parser.parse_args(argv)
    uri = tracking_uri()
    if uri.startswith(("http://", "https://")):
        print(
            f"MLFLOW_TRACKING_URI is a tracking server; open {uri.rstrip('/')}"
            f"{experiment_view(uri, args.experiment)}"
        )
        return
    view = experiment_view(uri, args.experiment)
    print(f"MLflow UI for {uri}: open http://{args.host}:{args.port}{view}", flush=True)
    command = ui_command(uri, args.host, args.port)
    os.execv(command[0], command)


if __name__ == "__main__":
    main()

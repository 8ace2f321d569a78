"""Serving fixtures: two real packaged students registered in a temporary MLflow store, and the
real application running under Ray Serve on a free loopback port.

Version 1 (SASRec) holds the ``champion`` alias; version 2 (GRU4Rec) waits for the switch test.
Weights are freshly initialised with fixed seeds: serving only needs a deterministic real model.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from serve_helpers import ADMIN_TOKEN, admin_app

MODEL_NAME = "distillrec-servetest"


@dataclass(frozen=True)
class Registry:
    """The temporary store and what is registered in it."""

    tracking_uri: str
    name: str
    num_items: int
    max_history: int
    items_path: Path

    @property
    def champion_uri(self) -> str:
        return f"models:/{self.name}@champion"

    def set_champion(self, version: str) -> None:
        from mlflow import MlflowClient

        client = MlflowClient(tracking_uri=self.tracking_uri, registry_uri=self.tracking_uri)
        client.set_registered_model_alias(self.name, "champion", version)

    def champion_version(self) -> str:
        from mlflow import MlflowClient

        client = MlflowClient(tracking_uri=self.tracking_uri, registry_uri=self.tracking_uri)
        return str(client.get_model_version_by_alias(self.name, "champion").version)


def _log_student(
    experiment_id: str,
    student: str,
    seed: int,
    items,
    num_items: int,
    max_history: int,
    name: str = MODEL_NAME,
    alter=None,
) -> None:
    """Log and register a freshly initialised student (``alter(model)`` may edit its weights)."""
    import mlflow
    import torch

    from distillrec.students import build_student
    from distillrec.training.packaging import log_student_model

    torch.manual_seed(seed)
    kwargs = {"num_items": num_items, "max_history": max_history, "hidden_size": 16}
    model = build_student(student, **kwargs).eval()
    if alter is not None:
        alter(model)
    with mlflow.start_run(experiment_id=experiment_id, run_name=f"serve-test-{student}"):
        log_student_model(
            model,
            student_name=student,
            model_kwargs=kwargs,
            items=items,
            max_history=max_history,
            registered_model_name=name,
        )


@pytest.fixture(scope="session")
def registry(ml100k: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    """ml-100k's catalogue behind two registered students; alias champion -> version 1."""
    import mlflow
    from mlflow import MlflowClient

    from distillrec.data import load_prepared

    dataset = load_prepared(ml100k)
    store = tmp_path_factory.mktemp("serve-mlflow")
    uri = f"sqlite:///{store / 'mlflow.db'}"
    # An explicit experiment id, not mlflow.set_experiment: nothing leaks into other areas' tests.
    artifacts = (store / "mlartifacts").as_uri()
    experiment_id = MlflowClient(uri, uri).create_experiment("serve-tests", artifacts)
    previous = mlflow.get_tracking_uri(), mlflow.get_registry_uri()
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    try:
        num_items, max_history = dataset.meta.num_items, dataset.meta.max_history
        for seed, student in enumerate(["sasrec", "gru4rec"]):
            _log_student(experiment_id, student, seed, dataset.items, num_items, max_history)
    finally:
        mlflow.set_tracking_uri(previous[0])
        mlflow.set_registry_uri(previous[1])
    reg = Registry(uri, MODEL_NAME, num_items, max_history, ml100k / "items.parquet")
    reg.set_champion("1")
    yield reg


@pytest.fixture(scope="session")
def register_student(ml100k: Path, registry: Registry):
    """``register(name, student, seed, alter=None)``: one more version in the registry's store,
    on ml-100k's catalogue (``alter(model)`` may edit the weights first)."""
    import mlflow
    from mlflow import MlflowClient

    from distillrec.data import load_prepared

    dataset = load_prepared(ml100k)
    client = MlflowClient(registry.tracking_uri, registry.tracking_uri)
    experiment_id = client.get_experiment_by_name("serve-tests").experiment_id

    def register(name: str, student: str, seed: int, alter=None) -> None:
        previous = mlflow.get_tracking_uri(), mlflow.get_registry_uri()
        mlflow.set_tracking_uri(registry.tracking_uri)
        mlflow.set_registry_uri(registry.tracking_uri)
        try:
            meta = dataset.meta
            _log_student(
                experiment_id, student, seed, dataset.items, meta.num_items, meta.max_history,
                name=name, alter=alter,
            )  # fmt: skip
        finally:
            mlflow.set_tracking_uri(previous[0])
            mlflow.set_registry_uri(previous[1])

    return register


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def admin_headers() -> dict[str, str]:
    """What an operator sends to ``POST /admin/reload`` of :func:`admin_app` services."""
    return {"Authorization": f"Bearer {ADMIN_TOKEN}"}


@pytest.fixture(scope="module")
def service(ray_session, registry: Registry) -> Iterator[str]:
    """The real application under Serve (one replica, no periodic alias check, admin token set,
    no reload rate limit); its base URL."""
    from ray import serve

    port = free_port()
    serve.start(http_options={"host": "127.0.0.1", "port": port})
    args = {"model": registry.champion_uri, "tracking_uri": registry.tracking_uri}
    args |= {"reload_interval_s": 0, "max_body_bytes": 16 * 1024, "reload_min_interval_s": 0}
    app = admin_app(args, autoscaling_config={"min_replicas": 1, "max_replicas": 1})
    serve.run(app, name="distillrec-test", route_prefix="/")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        serve.shutdown()


@pytest.fixture(autouse=True)
def _restore_mlflow_uris() -> Iterator[None]:
    """Loading a champion points MLflow's globals at its store: undo that after each test."""
    import mlflow

    previous = mlflow.get_tracking_uri(), mlflow.get_registry_uri()
    yield
    mlflow.set_tracking_uri(previous[0])
    mlflow.set_registry_uri(previous[1])

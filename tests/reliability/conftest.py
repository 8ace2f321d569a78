"""Reliability fixtures: a temporary MLflow store with small real students (no Ray)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from serving_helpers import NUM_ITEMS, Store


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    """A fresh sqlite MLflow store; MLflow's global URIs point at it during the test."""
    import mlflow
    from mlflow import MlflowClient

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    experiment_id = MlflowClient(uri, uri).create_experiment(
        "reliability", (tmp_path / "mlartifacts").as_uri()
    )
    previous = mlflow.get_tracking_uri(), mlflow.get_registry_uri()
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    titles = [f"Item {i}" for i in range(NUM_ITEMS)]
    items = pd.DataFrame({"item_id": range(NUM_ITEMS), "title": titles})
    try:
        yield Store(uri, experiment_id, items)
    finally:
        mlflow.set_tracking_uri(previous[0])
        mlflow.set_registry_uri(previous[1])

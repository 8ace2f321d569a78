"""Helpers for the reliability tests: small real students logged to a temporary MLflow store."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

NUM_ITEMS = 60
MAX_HISTORY = 5


@dataclass(frozen=True)
class Store:
    """A temporary sqlite MLflow store and the catalogue of its students."""

    tracking_uri: str
    experiment_id: str
    items: pd.DataFrame


def log_student(store: Store, name: str | None = None, alter=None, seed: int = 0):
    """Log (and register under ``name``) a small freshly initialised SASRec; returns ModelInfo."""
    import mlflow
    import torch

    from distillrec.students import build_student
    from distillrec.training.packaging import log_student_model

    torch.manual_seed(seed)
    kwargs = {"num_items": NUM_ITEMS, "max_history": MAX_HISTORY, "hidden_size": 8}
    model = build_student("sasrec", **kwargs).eval()
    if alter is not None:
        alter(model)
    with mlflow.start_run(experiment_id=store.experiment_id):
        return log_student_model(
            model,
            student_name="sasrec",
            model_kwargs=kwargs,
            items=store.items,
            max_history=MAX_HISTORY,
            registered_model_name=name,
        )

"""Shared fixtures: the dataset mirror, one local Ray per test session, temporary MLflow stores.

Area-specific fixtures live in ``tests/<area>/conftest.py``.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

MIRROR_ENV = "DISTILLREC_DATA_MIRROR"


@pytest.fixture(scope="session")
def data_mirror() -> Path:
    """The folder holding the real datasets (CI sets it to ../shared/data); skip when unset."""
    value = os.environ.get(MIRROR_ENV)
    if not value or not Path(value).is_dir():
        pytest.skip(f"{MIRROR_ENV} is not set to a folder with the real datasets")
    return Path(value)


@pytest.fixture(scope="session")
def ml100k(data_mirror: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """ml-100k prepared once per session with the default protocol (read from the mirror)."""
    from distillrec.data import prepare_dataset

    out = tmp_path_factory.mktemp("prepared") / "ml-100k"
    return prepare_dataset("ml-100k", out_dir=out)


@pytest.fixture(scope="session")
def ray_session():
    """One local Ray for the whole test session (2 CPUs, modest object store)."""
    import ray

    from distillrec.runtime import ensure_ray

    os.environ.pop("RAY_ADDRESS", None)
    ensure_ray(num_cpus=2, object_store_memory=256 * 1024 * 1024)
    yield ray
    ray.shutdown()


@pytest.fixture(scope="module")
def one_torch_thread():
    """Single-threaded torch for a module: tiny tensors, no OpenMP spinning on a 2-core box."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def mlflow_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh sqlite MLflow store (artifacts beside it) for one test."""
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    import mlflow

    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    return uri

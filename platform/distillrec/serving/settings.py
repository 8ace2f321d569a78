"""What a serving process is told: which model, which MLflow store, and the replica knobs.

One schema for the three entry points (``distillrec serve``, ``serve run serve.app:app`` with
environment variables, ``serve deploy serve/config.yaml`` with application ``args``), and the one
source of every serving default: ``commands/serve.py`` and ``deployment.py`` read theirs from
here, and ``tests/serve/test_serve_parts.py`` checks ``serve/config.yaml`` against them.
"""

from __future__ import annotations

import os
from typing import Any

from pydantic import Field, model_validator

from distillrec.config import StrictModel, check_safe_name
from distillrec.contracts import champion_model_uri
from distillrec.runtime import tracking_uri
from distillrec.serving.admin import DEFAULT_RELOAD_MIN_INTERVAL_S, admin_token_digest_from_env

DEFAULT_DATASET = "ml-100k"
DEFAULT_HOST = "127.0.0.1"  # loopback unless told otherwise
DEFAULT_PORT = 8000
DEFAULT_MAX_BODY_BYTES = 64 * 1024
# The Recommender deployment's options (replica CPU share, in-flight requests, autoscaling).
DEPLOYMENT_OPTIONS: dict[str, Any] = {
    "ray_actor_options": {"num_cpus": 0.5},
    "max_ongoing_requests": 64,
    "autoscaling_config": {
        "min_replicas": 1,
        "max_replicas": 2,
        "target_ongoing_requests": 16,
        "upscale_delay_s": 5,
        "downscale_delay_s": 60,
    },
    "health_check_period_s": 10,
}
ENV_MODEL = "DISTILLREC_MODEL_URI"
ENV_DATASET = "DISTILLREC_DATASET"


class ServeArgs(StrictModel):
    """Application arguments (also the ``args:`` block of serve/config.yaml)."""

    model: str | None = Field(default=None, description="MLflow model URI to serve")
    dataset: str = Field(default=DEFAULT_DATASET, description="serve this dataset's champion")
    tracking_uri: str | None = Field(default=None, description="MLflow store (default: env/sqlite)")
    reload_interval_s: float = Field(default=30.0, ge=0, description="alias check period; 0 = off")
    max_body_bytes: int = Field(default=DEFAULT_MAX_BODY_BYTES, ge=1024)
    torch_threads: int = Field(default=1, ge=1, description="torch threads per replica")
    max_batch_size: int = Field(default=32, ge=1, description="requests per forward pass")
    batch_wait_timeout_s: float = Field(default=0.002, ge=0, description="wait to fill a batch")
    access_log: bool = Field(default=False, description="log every request (costs CPU per request)")
    reload_min_interval_s: float = Field(
        default=DEFAULT_RELOAD_MIN_INTERVAL_S, ge=0, description="POST /admin/reload rate limit"
    )

    @model_validator(mode="after")
    def _safe_dataset(self) -> ServeArgs:
        check_safe_name(self.dataset, "dataset")
        return self

    @property
    def model_uri(self) -> str:
        return self.model or champion_model_uri(self.dataset)

    def resolved_tracking_uri(self) -> str:
        """Absolute, because replicas run in other processes and working directories."""
        return tracking_uri(self.tracking_uri)

    def deployment_kwargs(self) -> dict[str, Any]:
        """Constructor arguments of :class:`~distillrec.serving.deployment.Recommender`."""
        return {
            "model_uri": self.model_uri,
            "tracking_uri": self.resolved_tracking_uri(),
            "reload_interval_s": self.reload_interval_s,
            "max_body_bytes": self.max_body_bytes,
            "torch_threads": self.torch_threads,
            "max_batch_size": self.max_batch_size,
            "batch_wait_timeout_s": self.batch_wait_timeout_s,
            # POST /admin/reload: off unless $DISTILLREC_ADMIN_TOKEN is set where the app is built
            "admin_token_digest": admin_token_digest_from_env(),
            "reload_min_interval_s": self.reload_min_interval_s,
        }


def args_from_env() -> dict[str, Any]:
    """``DISTILLREC_MODEL_URI`` / ``DISTILLREC_DATASET`` (MLFLOW_TRACKING_URI is read later)."""
    args: dict[str, Any] = {}
    if os.environ.get(ENV_MODEL):
        args["model"] = os.environ[ENV_MODEL]
    if os.environ.get(ENV_DATASET):
        args["dataset"] = os.environ[ENV_DATASET]
    return args


SERVE_DEFAULTS = ServeArgs()  # every argument at its default, for the other entry points

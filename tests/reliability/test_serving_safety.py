"""Serving safety without Ray: nothing pickled is loaded, non-finite scores never become answers,
exclude_history covers every item sent, the admin guard, the HAProxy hardening, busy ports."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from serving_helpers import MAX_HISTORY, NUM_ITEMS, log_student

from distillrec.errors import UserError
from distillrec.serving.model_loading import load_champion
from distillrec.training.packaging import NonFiniteScoresError, load_student

POISONED_ITEM = 30  # outside the load-time probe histories


def poison_item(model) -> None:
    """Histories containing POISONED_ITEM score NaN; all others stay finite."""
    with torch.no_grad():
        model.item_embeddings.weight[POISONED_ITEM] = float("nan")


def poison_head(model) -> None:
    """Every score is NaN (what a diverged training run produces)."""
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.fill_(float("nan"))


def test_students_are_models_from_code_without_pickles(store) -> None:
    import mlflow
    import pandas as pd
    from mlflow.artifacts import download_artifacts

    info = log_student(store, name="m")
    folder = Path(download_artifacts(artifact_uri=info.model_uri))
    files = {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}
    assert not [f for f in files if f.endswith((".pkl", ".pickle", ".pt", ".pth"))], files
    assert {"artifacts/student/student.safetensors", "artifacts/student/student.json"} <= files
    mlmodel = (folder / "MLmodel").read_text()
    assert "model_code_path" in mlmodel and "python_model.pkl" not in mlmodel
    # still an ordinary pyfunc for MLflow users, agreeing with what serving loads
    pyfunc = mlflow.pyfunc.load_model("models:/m/1")
    answer = pyfunc.predict(pd.DataFrame({"history": [[1, 2, 3]], "k": [4]}))
    (expected,) = load_student("models:/m/1").recommend([[1, 2, 3]], 4)
    assert list(answer["items"][0]) == [i for i, _ in expected]


CRAFTED_MLMODEL = """flavors:
  python_function:
    loader_module: mlflow.pyfunc.model
    python_model: python_model.pkl
    artifacts:
      student:
        path: artifacts/student
        uri: artifacts/student
    env:
      conda: conda.yaml
      virtualenv: python_env.yaml
    python_version: 3.11.7
    cloudpickle_version: 3.1.3
mlflow_version: 3.17.2
"""


def test_crafted_pickle_in_a_model_folder_never_runs(store, tmp_path: Path) -> None:
    """A registered version whose folder holds a real student plus a pickle payload: serving
    loads the student and the payload does not run (its marker file stays absent), while MLflow's
    own pickle loader does run it (so the crafted folder is a real attack)."""
    import pickle

    import mlflow
    from mlflow import MlflowClient
    from mlflow.artifacts import download_artifacts

    crafted = tmp_path / "crafted"
    crafted.mkdir()
    uri = log_student(store).model_uri
    genuine = Path(download_artifacts(artifact_uri=uri, dst_path=str(crafted)))
    marker = tmp_path / "payload-ran"

    class Payload:
        def __reduce__(self):
            return (Path.touch, (marker,))

    (genuine / "python_model.pkl").write_bytes(pickle.dumps(Payload()))
    (genuine / "MLmodel").write_text(CRAFTED_MLMODEL)
    with mlflow.start_run(experiment_id=store.experiment_id) as run:
        mlflow.log_artifacts(str(genuine), "model")
    client = MlflowClient(store.tracking_uri, store.tracking_uri)
    client.create_registered_model("crafted")
    client.create_model_version("crafted", f"runs:/{run.info.run_id}/model", run.info.run_id)
    client.set_registered_model_alias("crafted", "champion", "1")

    champion = load_champion("models:/crafted@champion", store.tracking_uri)
    assert champion.info.version == "1" and champion.student.num_items == NUM_ITEMS
    assert load_student(f"runs:/{run.info.run_id}/model").recommend([[1]], 3)
    assert not marker.exists(), "serving executed a pickle from the model folder"

    control = (
        "import mlflow, sys; mlflow.set_tracking_uri(sys.argv[1]);"
        "mlflow.pyfunc.load_model('models:/crafted/1')"
    )
    subprocess.run([sys.executable, "-c", control, store.tracking_uri], capture_output=True)
    assert marker.exists(), "control: MLflow's pickle loader should have run the payload"


def test_a_folder_that_is_not_a_student_is_refused(store, tmp_path: Path) -> None:
    import mlflow

    folder = tmp_path / "empty-model"
    folder.mkdir()
    (folder / "MLmodel").write_text(CRAFTED_MLMODEL)
    with mlflow.start_run(experiment_id=store.experiment_id) as run:
        mlflow.log_artifacts(str(folder), "model")
    with pytest.raises(UserError, match="not a distillrec student .*student.safetensors"):
        load_student(f"runs:/{run.info.run_id}/model")


def test_exclude_history_covers_items_beyond_max_history(store) -> None:
    student = load_student(log_student(store).model_uri)
    recent = [10, 11, 12, 13, 14]
    assert len(recent) == MAX_HISTORY
    (top,) = student.recommend([recent], 5)
    older = [top[0][0], top[1][0]]  # the best two items for this recent history
    long = older + recent  # the model sees only `recent`
    (answer,) = student.recommend([long], 5)
    assert not {i for i, _ in answer} & set(long)
    assert [i for i, _ in answer][:3] == [i for i, _ in top][2:5]  # same ranking, minus them
    (kept,) = student.recommend([long], 5, exclude_history=False)
    assert {i for i, _ in kept} & set(older)  # they are only left out when asked


def test_non_finite_scores_are_never_returned(store) -> None:
    student = load_student(log_student(store, alter=poison_item).model_uri)
    student.probe_finite()  # broken only for some histories: passes the load-time probe
    ranked = student.rank([[1, 2], [3, POISONED_ITEM], [4]], 3)
    assert ranked[1] is None and ranked[0] and ranked[2]
    assert all(torch.isfinite(torch.tensor([s for _, s in ranked[0]])))
    with pytest.raises(NonFiniteScoresError, match="1 of 2 histories"):
        student.recommend([[1], [POISONED_ITEM]], 3)


def test_a_model_broken_everywhere_is_refused_at_load(store) -> None:
    log_student(store, name="nan", alter=poison_head)
    with pytest.raises(UserError, match="refusing to serve it .*non-finite"):
        load_champion("models:/nan/1", store.tracking_uri)


def test_reload_guard() -> None:
    from distillrec.serving.admin import ReloadGuard, token_digest
    from distillrec.serving.http_errors import ApiError

    def status(guard: ReloadGuard, bearer: str | None) -> int:
        try:
            guard.check(bearer)
        except ApiError as err:
            return err.status_code
        return 200

    assert status(ReloadGuard(None, 0), "anything") == 403  # off unless a token is configured
    guard = ReloadGuard(token_digest("s3cret-s3cret-s3cret"), 60)
    assert [status(guard, b) for b in (None, "", "wrong", "s3cret-s3cret-s3cre")] == [401] * 4
    assert status(guard, "s3cret-s3cret-s3cret") == 200
    with pytest.raises(ApiError) as limited:
        guard.check("s3cret-s3cret-s3cret")
    assert limited.value.status_code == 429 and int(limited.value.headers["Retry-After"]) >= 59


def test_admin_token_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    from distillrec.serving.admin import ENV_ADMIN_TOKEN, admin_token_digest_from_env, token_digest

    monkeypatch.delenv(ENV_ADMIN_TOKEN, raising=False)
    assert admin_token_digest_from_env() is None
    monkeypatch.setenv(ENV_ADMIN_TOKEN, "short")
    with pytest.raises(UserError, match="at least 16 characters"):
        admin_token_digest_from_env()
    monkeypatch.setenv(ENV_ADMIN_TOKEN, "x" * 20)
    assert admin_token_digest_from_env() == token_digest("x" * 20)


def _ray_haproxy_config(host: str, folder: Path) -> str:
    """The configuration Ray's own HAProxy manager code writes (no backends yet)."""
    from ray.serve._private.haproxy import HAProxyApi, HAProxyConfig
    from ray.serve.config import HTTPOptions

    cfg = HAProxyConfig(
        http_options=HTTPOptions(host=host, port=free_port()),
        is_head=True,
        stats_port=free_port(),
        metrics_port=free_port(),
        socket_path=str(folder / "admin.sock"),
        server_state_base=str(folder),
        server_state_file=str(folder / "server-state"),
        metrics_socket_path=str(folder / "metrics.sock"),
        enable_hap_optimization=False,
    )
    api = HAProxyApi(cfg=cfg, config_file_path=str(folder / "haproxy.cfg"))
    api._generate_config_file_internal()
    return (folder / "haproxy.cfg").read_text()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize(("host", "bound"), [("127.0.0.1", "127.0.0.1"), ("0.0.0.0", "127.0.0.1")])
def test_haproxy_config_hardened(host: str, bound: str, tmp_path: Path) -> None:
    """Ray's template binds stats on *:port and metrics on :port and has no request timeout; the
    launcher's rewrite binds both to the serve host and adds one, and HAProxy accepts the result."""
    from distillrec.serving.haproxy_launcher import harden_config
    from distillrec.serving.ingress import real_haproxy_binary

    original = _ray_haproxy_config(host, tmp_path)
    assert "bind *:" in original and "timeout http-request" not in original
    hardened = harden_config(original, 7)
    lines = [line.strip() for line in hardened.splitlines()]
    binds = [line for line in lines if line.startswith("bind ")]
    assert len(binds) == 3 and all(b.startswith(f"bind {bound}:") for b in binds[::2]), binds
    assert "timeout http-request 7s" in lines
    assert harden_config(hardened, 7) == hardened  # idempotent across reloads
    path = tmp_path / "haproxy.cfg"
    path.write_text(hardened)
    binary = real_haproxy_binary()
    if binary is None:
        pytest.skip("no HAProxy binary (ray-haproxy not installed)")
    check = subprocess.run([binary, "-c", "-f", str(path)], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr


def test_maxconn_fits_the_open_file_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    import resource

    from distillrec.serving import ingress

    monkeypatch.setattr(resource, "getrlimit", lambda _: (1024, 20_000))
    assert ingress.maxconn_for_fd_limit() == 7897  # 2.5 fds per connection + a reserve
    monkeypatch.setattr(resource, "getrlimit", lambda _: (1024, 1_000_000))
    assert ingress.maxconn_for_fd_limit() == ingress.MAXCONN


def test_busy_port_named_in_one_line() -> None:
    from distillrec.serving.ingress import check_port_free

    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        with pytest.raises(UserError) as err:
            check_port_free("127.0.0.1", port)
    message = str(err.value)
    assert f"--port {port}: 127.0.0.1:{port} is already in use" in message
    assert "\n" not in message
    check_port_free("127.0.0.1", port)  # free again once the holder is gone

"""The live service under attack and misuse (issue 15): unsupported methods get 405 + Allow,
schemathesis finds no 5xx and no schema violation, /admin/reload needs its token and is
rate-limited, exclude_history covers the whole history, non-finite scores are never answered."""

from __future__ import annotations

import subprocess
import sys

import httpx
import pytest
import torch

pytestmark = pytest.mark.integration
NAN_APP = "/nan"
NAN_MODEL = "distillrec-servenan"
POISONED_ITEM = 1000  # outside the load-time probe histories


def poison_item(model) -> None:
    """Histories containing POISONED_ITEM score NaN; the load-time probe does not see it."""
    with torch.no_grad():
        model.item_embeddings.weight[POISONED_ITEM] = float("nan")


def poison_everything(model) -> None:
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.fill_(float("nan"))


@pytest.fixture(scope="module")
def client(service: str):
    with httpx.Client(base_url=service, timeout=30) as http:
        yield http


@pytest.fixture(scope="module")
def nan_service(service: str, registry, register_student) -> str:
    """A second application on the same Serve instance at /nan: version 1 scores NaN for
    histories with POISONED_ITEM, version 2 scores NaN everywhere. Token set, one reload/min."""
    from mlflow import MlflowClient
    from ray import serve
    from serve_helpers import admin_app

    register_student(NAN_MODEL, "sasrec", 3, alter=poison_item)
    register_student(NAN_MODEL, "sasrec", 4, alter=poison_everything)
    MlflowClient(registry.tracking_uri, registry.tracking_uri).set_registered_model_alias(
        NAN_MODEL, "champion", "1"
    )
    args = {"model": f"models:/{NAN_MODEL}@champion", "tracking_uri": registry.tracking_uri}
    args |= {"reload_interval_s": 0, "reload_min_interval_s": 60}
    app = admin_app(args, autoscaling_config={"min_replicas": 1, "max_replicas": 1})
    serve.run(app, name="distillrec-nan", route_prefix=NAN_APP)
    yield service + NAN_APP
    serve.delete("distillrec-nan")


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("GET", "/recommend", "POST"),
        ("PUT", "/recommend", "POST"),
        ("POST", "/healthz", "GET"),
        ("DELETE", "/items/3", "GET"),
        ("GET", "/admin/reload", "POST"),
    ],
)
def test_unsupported_method_gets_405_with_allow(client, method, path, allowed) -> None:
    response = client.request(method, path)
    assert response.status_code == 405, response.text
    assert response.headers["allow"] == allowed
    assert response.json()["error"] == "method_not_allowed"


def test_schemathesis_finds_no_server_error_and_no_schema_violation(
    service: str, admin_headers
) -> None:
    """The schemathesis CLI against /openapi.json of the live service (bounded: 60 examples per
    operation, fixed seed, with the admin token so /admin/reload is exercised too): every answer
    is a documented, schema-conform, non-5xx response."""
    checks = [
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_schema_conformance",
        "response_headers_conformance",
        "unsupported_method",
    ]
    command = [sys.executable, "-m", "schemathesis.cli", "run", f"{service}/openapi.json"]
    command += ["--checks", ",".join(checks), "--max-examples", "60", "--seed", "15"]
    command += ["-H", f"Authorization: {admin_headers['Authorization']}"]
    command += ["--phases", "examples,coverage,fuzzing", "--request-timeout", "20"]
    command += ["--generation-database", "none", "--no-color"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=150)
    report = done.stdout[-4000:] + done.stderr[-2000:]
    assert done.returncode == 0, report
    assert "No issues found" in done.stdout or " passed" in done.stdout, report


def test_reload_needs_the_token(client, admin_headers) -> None:
    for headers in ({}, {"Authorization": "Bearer wrong-token-wrong-token"}, {"X-Token": "x"}):
        response = client.post("/admin/reload", headers=headers)
        assert response.status_code == 401, response.text
        assert response.json()["error"] == "unauthorized"
        assert response.headers["www-authenticate"] == "Bearer"
    response = client.post("/admin/reload", headers=admin_headers)
    assert response.status_code == 200 and response.json()["changed"] is False


def test_exclude_history_covers_items_beyond_max_history(client, registry) -> None:
    """The model sees the latest max_history items; items sent before them are left out too."""
    recent = list(range(300, 300 + registry.max_history))
    first = client.post("/recommend", json={"history": recent}).json()
    top = [i["item_id"] for i in first["items"]]
    older = top[:3]
    answer = client.post("/recommend", json={"history": older + recent, "k": 10}).json()
    returned = [i["item_id"] for i in answer["items"]]
    assert not set(returned) & set(older + recent)
    assert returned[:7] == top[3:10] and answer["history_used"] == registry.max_history


def test_non_finite_scores_are_refused_and_healthz_says_so(nan_service: str) -> None:
    with httpx.Client(base_url=nan_service, timeout=30) as http:
        assert http.get("/healthz").json()["status"] == "ok"
        fine = http.post("/recommend", json={"history": [1, 2, 3], "k": 5})
        assert fine.status_code == 200 and len(fine.json()["items"]) == 5
        poisoned = http.post("/recommend", json={"history": [1, POISONED_ITEM], "k": 5})
        assert poisoned.status_code == 503, poisoned.text
        assert poisoned.json()["error"] == "non_finite_scores" and "null" not in poisoned.text
        health = http.get("/healthz")
        assert health.status_code == 503 and health.json()["status"] == "unhealthy"
        assert "non-finite" in health.json()["detail"]


def test_reload_refuses_a_model_broken_everywhere_and_is_rate_limited(
    nan_service: str, registry, admin_headers
) -> None:
    from mlflow import MlflowClient

    client = MlflowClient(registry.tracking_uri, registry.tracking_uri)
    client.set_registered_model_alias(NAN_MODEL, "champion", "2")
    with httpx.Client(base_url=nan_service, timeout=30, headers=admin_headers) as http:
        refused = http.post("/admin/reload")
        assert refused.status_code == 409 and "non-finite" in refused.json()["message"]
        assert http.post("/recommend", json={"history": [1, 2]}).status_code == 200
        limited = http.post("/admin/reload")
        assert limited.status_code == 429 and int(limited.headers["retry-after"]) > 50


def test_openapi_documents_the_new_answers(client) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert {"401", "403", "429", "409"} <= set(paths["/admin/reload"]["post"]["responses"])
    assert "503" in paths["/recommend"]["post"]["responses"]
    assert "503" in paths["/healthz"]["get"]["responses"]

"""The real application over HTTP: correct rankings, behaviour, every bad input, champion switch."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pandas as pd
import pytest

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def client(service: str, admin_headers: dict[str, str]):
    # only /admin/reload looks at the token
    with httpx.Client(base_url=service, timeout=30, headers=admin_headers) as http:
        yield http


@pytest.fixture(scope="module")
def local_v1(registry):
    """Version 1 loaded in this process: the reference the service must agree with."""
    import mlflow

    from distillrec.serving.model_loading import load_champion

    previous = mlflow.get_tracking_uri(), mlflow.get_registry_uri()
    student = load_champion(f"models:/{registry.name}/1", registry.tracking_uri).student
    mlflow.set_tracking_uri(previous[0])
    mlflow.set_registry_uri(previous[1])
    return student


def recommend(client: httpx.Client, **body) -> dict:
    response = client.post("/recommend", json=body)
    assert response.status_code == 200, response.text
    return response.json()


def test_same_ranking_as_the_model_in_process(client, local_v1, registry) -> None:
    titles = pd.read_parquet(registry.items_path).set_index("item_id")["title"]
    for history in ([0], [49, 180, 257], list(range(100, 110))):
        answer = recommend(client, history=history, k=20)
        (expected,) = local_v1.recommend([history], 20)
        assert [i["item_id"] for i in answer["items"]] == [i for i, _ in expected]
        assert [i["score"] for i in answer["items"]] == pytest.approx([s for _, s in expected])
        assert [i["title"] for i in answer["items"]] == [titles[i] for i, _ in expected]
        assert answer["model"] == {"name": registry.name, "version": "1", "student": "sasrec"}
        assert answer["history_used"] == len(history)


def test_history_excluded_unless_asked(client, local_v1) -> None:
    def top(history: list[int], exclude: bool) -> list[int]:
        return [i for i, _ in local_v1.recommend([history], 10, exclude_history=exclude)[0]]

    # a one-item history that ranks in its own top 10 when not excluded
    singles = local_v1.recommend([[i] for i in range(local_v1.num_items)], 10, False)
    history = next([i] for i, ranked in enumerate(singles) if i in {j for j, _ in ranked})
    answer = recommend(client, history=history, exclude_history=False)
    kept = [i["item_id"] for i in answer["items"]]
    assert kept == top(history, False) and set(history) & set(kept)
    dropped = [i["item_id"] for i in recommend(client, history=history)["items"]]
    assert dropped == top(history, True) and not set(history) & set(dropped)
    assert len(dropped) == 10


def test_batching_and_padding_do_not_change_scores(client) -> None:
    """Histories of every length sent concurrently (so batched together, padded differently
    from when alone) get exactly the answer each gets alone."""
    histories = [list(range(i, i + 1 + i % 10)) for i in range(0, 300, 10)]
    alone = [recommend(client, history=h, k=5)["items"] for h in histories]
    with ThreadPoolExecutor(max_workers=16) as pool:
        together = list(pool.map(lambda h: recommend(client, history=h, k=5)["items"], histories))
    for one, batched in zip(alone, together, strict=True):
        assert [i["item_id"] for i in batched] == [i["item_id"] for i in one]
        assert [i["score"] for i in batched] == pytest.approx([i["score"] for i in one], rel=1e-5)


def test_long_history_truncated_to_max_history(client, registry) -> None:
    recent = list(range(500, 500 + registry.max_history))
    long = recommend(client, history=list(range(20)) + recent, k=10)
    assert long["history_used"] == registry.max_history
    assert long["items"] == recommend(client, history=recent, k=10)["items"]


def test_titles_resolve_like_ids(client, registry) -> None:
    titles = pd.read_parquet(registry.items_path).set_index("item_id")["title"]
    by_id = recommend(client, history=[0, 49, 180], k=5)
    names = [titles[0].upper(), f"  {titles[49]} ", titles[180]]  # case and spacing ignored
    assert recommend(client, history_titles=names, k=5)["items"] == by_id["items"]
    assert client.get("/items/49").json() == {"item_id": 49, "title": titles[49]}


def test_healthz_and_docs(client, registry) -> None:
    health = client.get("/healthz").json()
    assert health["status"] == "ok" and health["num_items"] == registry.num_items
    assert health["max_history"] == registry.max_history
    assert client.get("/docs").status_code == 200
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/recommend", "/items/{item_id}", "/healthz", "/admin/reload"} <= set(paths)


def test_docs_and_every_asset_they_use_come_from_the_service(client) -> None:
    for page in ("/docs", "/redoc"):
        response = client.get(page)
        assert response.status_code == 200 and "text/html" in response.headers["content-type"]
        html = response.text
        assert not re.findall(r"(?:https?:)?//[\w.-]+\.\w+/", html), "an external URL in " + page
        refs = re.findall(r"""(?:src|href|spec-url)=["']([^"']+)["']|url: '([^']+)'""", html)
        urls = {a or b for a, b in refs}
        assert "/openapi.json" in urls and any(u.endswith(".js") for u in urls), urls
        for url in urls:
            asset = client.get(url)
            assert asset.status_code == 200 and len(asset.content) > 100, url
    assert "SwaggerUIBundle" in client.get("/docs-static/swagger-ui-bundle.js").text
    assert '"validatorUrl": null' in client.get("/docs").text  # no online validator badge


def test_recommend_examples_in_the_schema_answer_200(client, registry) -> None:
    schema = client.get("/openapi.json").json()
    body = schema["paths"]["/recommend"]["post"]["requestBody"]["content"]["application/json"]
    examples = body["examples"]
    assert set(examples) == {"ids", "titles"}
    answers = [recommend(client, **example["value"]) for example in examples.values()]
    assert len(examples["ids"]["value"]["history"]) == 3
    assert answers[0]["items"] == answers[1]["items"] and len(answers[0]["items"]) == 5


BAD_BODIES = [
    ({"history": [999_999]}, 422, "unknown_item", "history[0]: item id 999999"),
    ({"history": [3, -1]}, 422, "unknown_item", "history[1]"),
    ({"history_titles": ["No Such Film (1901)"]}, 422, "unknown_title", "No Such Film"),
    ({"history_titles": ["Body Snatchers (1993)"]}, 422, "ambiguous_title", "572"),
    ({"history": []}, 422, "invalid_request", "'history' is empty"),
    ({"history_titles": []}, 422, "invalid_request", "'history_titles' is empty"),
    ({}, 422, "invalid_request", "exactly one of"),
    ({"history": [1], "history_titles": ["x"]}, 422, "invalid_request", "exactly one of"),
    ({"history": [1], "k": 0}, 422, "invalid_request", "k: Input should be greater than"),
    ({"history": [1], "k": 101}, 422, "invalid_request", "k: Input should be less than"),
    ({"history": [1], "k": "10"}, 422, "invalid_request", "k: Input should be a valid integer"),
    ({"history": ["a"]}, 422, "invalid_request", "history.0"),
    ({"history": [1.5]}, 422, "invalid_request", "history.0"),
    ({"history": 5}, 422, "invalid_request", "history: Input should be a valid list"),
    ({"history": [1], "exclude_history": "yes"}, 422, "invalid_request", "exclude_history"),
    ({"history": [1], "user": 3}, 422, "invalid_request", "user: Extra inputs"),
    ([1, 2], 422, "invalid_request", "valid dictionary"),
]


@pytest.mark.parametrize(("body", "status", "error", "names"), BAD_BODIES)
def test_bad_request_bodies(client, body, status, error, names) -> None:
    response = client.post("/recommend", json=body)
    assert response.status_code == status, response.text
    assert response.json()["error"] == error
    assert names in response.json()["message"]


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "status", "error"),
    [
        ("POST", "/recommend", {"content": b'{"history": [1,'}, 400, "malformed_json"),
        ("POST", "/recommend", {"content": b"\xff\xff\xff"}, 400, "malformed_json"),
        ("POST", "/recommend", {"json": {"history": list(range(20_000))}}, 413, "body_too_large"),
        ("POST", "/recommend", {"content": b"history=1", "headers": {"content-type": "text/plain"}},
         422, "invalid_request"),
        ("GET", "/items/999999", {}, 404, "unknown_item"),
        ("GET", "/items/abc", {}, 422, "invalid_request"),
        ("GET", "/nowhere", {}, 404, "not_found"),
        ("GET", "/recommend", {}, 405, "method_not_allowed"),
        ("DELETE", "/healthz", {}, 405, "method_not_allowed"),
    ],
)  # fmt: skip
def test_bad_requests(client, method, path, kwargs, status, error) -> None:
    headers = {"content-type": "application/json", **kwargs.pop("headers", {})}
    response = client.request(method, path, headers=headers, **kwargs)
    assert response.status_code == status, response.text
    assert response.json()["error"] == error and response.json()["message"]


def test_still_serving_after_bad_input(client) -> None:
    assert client.get("/healthz").status_code == 200
    assert len(recommend(client, history=[1, 2, 3])["items"]) == 10


def test_bench_job_against_the_service(service, tmp_path) -> None:
    """jobs/bench_serve.py from its own process, on a tiny load: numbers and the teacher ratio."""
    out = tmp_path / "bench.json"
    command = [sys.executable, str(REPO / "jobs" / "bench_serve.py"), "--url", service]
    command += ["--rate", "40", "--duration", "1", "--concurrency", "4", "--saturate-seconds", "1"]
    command += ["--warmup-seconds", "0.5", "--teacher-seconds-per-example", "0.5"]
    command += ["--out", str(out)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    summary = json.loads(out.read_text())
    fixed, peak = summary["phases"]
    assert fixed["sent"] == 40 and fixed["errors"] == {} and fixed["p99_ms"] > 0
    assert peak["ok"] > 0 and peak["errors"] == {}
    assert summary["throughput_speedup_vs_teacher"] == pytest.approx(0.5 * peak["achieved_rps"])
    assert "p99" in done.stdout and "teacher: 0.500 s per example" in done.stdout


def test_champion_switch_drops_no_request(client, registry) -> None:
    """Move the alias to version 2 and reload while requests keep flowing: every request is
    answered 200, by version 1 until the switch and by version 2 after it."""
    versions: list[str] = []
    failures: list[str] = []
    stop = threading.Event()

    def load() -> None:
        with httpx.Client(base_url=str(client.base_url), timeout=30) as http:
            while not stop.is_set():
                response = http.post("/recommend", json={"history": [5, 6, 7], "k": 3})
                if response.status_code != 200:
                    failures.append(response.text)
                else:
                    versions.append(response.json()["model"]["version"])

    workers = [threading.Thread(target=load) for _ in range(3)]
    for worker in workers:
        worker.start()
    try:
        registry.set_champion("2")
        reload = client.post("/admin/reload").json()
        assert reload["changed"] and reload["previous"]["version"] == "1"
        assert reload["model"] == {"name": registry.name, "version": "2", "student": "gru4rec"}
        after = len(versions)
        deadline = time.monotonic() + 30
        while len(versions) < after + 10 and time.monotonic() < deadline:
            time.sleep(0.05)
        stop.set()
        for worker in workers:
            worker.join()
        assert not failures
        assert versions[0] == "1" and versions[-1] == "2" and set(versions) == {"1", "2"}
        assert client.post("/admin/reload").json()["changed"] is False
    finally:
        stop.set()
        registry.set_champion("1")


def test_reload_failure_keeps_serving(client, registry) -> None:
    from mlflow import MlflowClient

    mlflow_client = MlflowClient(registry.tracking_uri, registry.tracking_uri)
    mlflow_client.delete_registered_model_alias(registry.name, "champion")
    try:
        response = client.post("/admin/reload")
        assert response.status_code == 409 and response.json()["error"] == "reload_failed"
        assert "champion" in response.json()["message"]
        assert recommend(client, history=[1])["items"]
    finally:
        registry.set_champion("1")

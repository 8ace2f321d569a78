"""The serving parts outside HTTP: URIs, catalogue, body limit, batching maths, switching, entry
points and benchmark helpers (real MLflow store, real packaged students)."""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from fastapi import FastAPI
from fastapi.testclient import TestClient

from distillrec.contracts import champion_model_uri
from distillrec.errors import UserError
from distillrec.runtime import SERVE_LOCAL_ENV, absolute_tracking_uri, apply_serve_local_env
from distillrec.serving.bench import make_payloads, summarise, teacher_seconds_per_example
from distillrec.serving.catalogue import Catalogue
from distillrec.serving.http_errors import ApiError, BodySizeLimit, install_error_handlers
from distillrec.serving.model_loading import load_champion, parse_model_uri

REPO = Path(__file__).resolve().parents[2]


def test_model_uris() -> None:
    assert champion_model_uri("ml-100k") == "models:/distillrec-ml-100k@champion"
    ref = parse_model_uri("models:/distillrec-ml-100k@champion")
    assert (ref.name, ref.alias, ref.version, ref.follows_alias) == (
        "distillrec-ml-100k", "champion", None, True
    )  # fmt: skip
    pinned = parse_model_uri("models:/m/3")
    assert (pinned.name, pinned.version, pinned.follows_alias) == ("m", "3", False)
    assert parse_model_uri("runs:/abc/model").name is None
    with pytest.raises(UserError, match="expected models:/<name>@<alias>"):
        parse_model_uri("models:/a/b/c")


def test_tracking_uri_made_absolute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert absolute_tracking_uri("sqlite:///mlflow.db") == f"sqlite:///{tmp_path}/mlflow.db"
    assert absolute_tracking_uri("sqlite:////abs/x.db") == "sqlite:////abs/x.db"
    assert absolute_tracking_uri("http://127.0.0.1:5000") == "http://127.0.0.1:5000"


def test_local_ray_serves_through_haproxy(monkeypatch: pytest.MonkeyPatch) -> None:
    """A local Ray gets Serve's HAProxy ingress unless the user already chose; the serving tests
    below run through it (the session's Ray is started by ensure_ray)."""
    for key in SERVE_LOCAL_ENV:
        monkeypatch.delenv(key, raising=False)
    apply_serve_local_env()
    assert os.environ["RAY_SERVE_ENABLE_HA_PROXY"] == "1"
    monkeypatch.setenv("RAY_SERVE_ENABLE_HA_PROXY", "0")
    apply_serve_local_env()
    assert os.environ["RAY_SERVE_ENABLE_HA_PROXY"] == "0"


def test_catalogue_ids_and_titles() -> None:
    items = pd.DataFrame({"item_id": [0, 1, 2, 3], "title": ["Heat (1995)", "Up", "Twin", "Twin"]})
    catalogue = Catalogue(items, num_items=4)
    assert catalogue.ids_for_titles(["heat  (1995)", "Up"]) == [0, 1]
    assert catalogue.check_ids([3, 0]) == [3, 0]
    with pytest.raises(ApiError, match=r"history\[1\]: item id 4 is not in .*0\.\.3") as err:
        catalogue.check_ids([0, 4])
    assert err.value.status_code == 422
    with pytest.raises(ApiError, match=r"'Twin' is the title of items \[2, 3\]"):
        catalogue.ids_for_titles(["Twin"])
    with pytest.raises(ApiError, match="no item is titled 'Down'"):
        catalogue.ids_for_titles(["Up", "Down"])
    assert catalogue.item(2).title == "Twin"
    with pytest.raises(ApiError) as err:
        catalogue.item(-1)
    assert err.value.status_code == 404


def test_body_limit_counts_streamed_bodies_without_content_length() -> None:
    app = FastAPI()
    install_error_handlers(app)
    app.add_middleware(BodySizeLimit, max_bytes=1024)

    @app.post("/echo")
    async def echo(body: dict) -> dict:
        return body

    client = TestClient(app)
    assert client.post("/echo", json={"a": 1}).json() == {"a": 1}
    chunks = (b"x" * 300 for _ in range(5))  # chunked: no Content-Length header
    response = client.post("/echo", content=chunks, headers={"content-type": "application/json"})
    assert response.status_code == 413
    assert response.json() == {
        "error": "body_too_large",
        "message": "request body is over the limit of 1024 bytes",
    }


def test_batched_scoring_matches_single_requests(registry) -> None:
    """Mixed k and exclude_history in one batch: each job gets exactly its own answer."""
    from distillrec.serving.deployment import ScoreJob, score_jobs

    champion = load_champion(f"models:/{registry.name}/1", registry.tracking_uri)
    jobs = [
        ScoreJob(champion, [1, 2, 3], 5, True),
        ScoreJob(champion, [1, 2, 3], 20, False),
        ScoreJob(champion, [9], 1, True),
        ScoreJob(champion, list(range(30, 40)), 100, True),
    ]
    batched = score_jobs(jobs)
    for job, got in zip(jobs, batched, strict=True):
        (alone,) = champion.student.recommend([job.history], job.k, job.exclude_history)
        assert [i for i, _ in got] == [i for i, _ in alone]
        assert [s for _, s in got] == pytest.approx([s for _, s in alone], rel=1e-5)
        assert len(got) == job.k


def test_alias_polling_switches_versions(registry) -> None:
    from distillrec.serving.switching import ChampionHolder

    holder = ChampionHolder(registry.champion_uri, registry.tracking_uri)
    assert holder.current.info.version == "1" and holder.start_polling(0.2)
    try:
        registry.set_champion("2")
        deadline = time.monotonic() + 20
        while holder.current.info.version != "2" and time.monotonic() < deadline:
            time.sleep(0.1)
        assert holder.current.info.version == "2"
        assert holder.current.info.student == "gru4rec"
    finally:
        holder.stop()
        registry.set_champion("1")
    pinned = ChampionHolder(f"models:/{registry.name}/2", registry.tracking_uri)
    assert not pinned.start_polling(0.2)  # a pinned version never moves


def test_missing_champion_is_one_line(registry) -> None:
    """`distillrec serve` with no registered champion fails fast: exit 2, one line, no Ray."""
    from typer.testing import CliRunner

    from distillrec.cli import app

    store = registry.tracking_uri
    result = CliRunner().invoke(
        app, ["serve", "--dataset", "nope", "--tracking-uri", store, "--port", "8999"]
    )
    assert result.exit_code == 2
    assert "registered model 'distillrec-nope'" in result.output
    assert "Traceback" not in result.output


def test_entry_points_validate(registry, monkeypatch: pytest.MonkeyPatch) -> None:
    from ray.serve.schema import ServeDeploySchema

    from distillrec.serving.settings import ServeArgs

    config = yaml.safe_load((REPO / "serve" / "config.yaml").read_text())
    deploy = ServeDeploySchema.model_validate(config)
    assert deploy.http_options.host == "127.0.0.1"
    (application,) = config["applications"]
    assert ServeArgs.model_validate(application["args"]).model_uri == champion_model_uri("ml-100k")
    monkeypatch.setenv("DISTILLREC_MODEL_URI", registry.champion_uri)
    monkeypatch.syspath_prepend(str(REPO))
    import importlib

    from ray.serve import Application

    module = importlib.import_module("serve.app")
    assert isinstance(module.app, Application)


def test_benchmark_helpers(tmp_path: Path) -> None:
    latencies = [0.001 * i for i in range(1, 101)]  # 1..100 ms
    result = summarise("fixed_rate", latencies, Counter({"HTTP 500": 2}), 2.0)
    assert (result.ok, result.sent, result.num_errors) == (100, 102, 2)
    assert result.p50_ms == pytest.approx(np.percentile(np.arange(1, 101), 50))
    assert result.p99_ms == pytest.approx(99.01)
    assert result.achieved_rps == 50.0
    bodies = [json.loads(b) for b in make_payloads(20, 5, 50, k=3, seed=0)]
    assert all(1 <= len(b["history"]) <= 5 and max(b["history"]) < 20 for b in bodies)
    manifest = {"throughput": {"seconds_per_example": 0.4}}
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    assert teacher_seconds_per_example(tmp_path) == 0.4
    (tmp_path / "manifest.json").write_text("{}")
    with pytest.raises(UserError, match="seconds_per_example"):
        teacher_seconds_per_example(tmp_path)


def test_serving_defaults_have_one_source() -> None:
    """settings.py holds every serving default; the CLI, the deployment and serve/config.yaml
    must say the same (a default changed in one place only fails here)."""
    import inspect

    from distillrec.commands.serve import serve_command
    from distillrec.serving import deployment
    from distillrec.serving.settings import (
        DEFAULT_HOST,
        DEFAULT_PORT,
        DEPLOYMENT_OPTIONS,
        SERVE_DEFAULTS,
        ServeArgs,
    )

    defaults = SERVE_DEFAULTS.model_dump()
    config = yaml.safe_load((REPO / "serve" / "config.yaml").read_text())
    (application,) = config["applications"]
    assert application["args"] == defaults  # every ServeArgs field, at its default
    assert set(application["args"]) == set(ServeArgs.model_fields)
    assert config["http_options"]["host"] == DEFAULT_HOST
    assert config["http_options"]["port"] == DEFAULT_PORT
    assert config["logging_config"]["enable_access_log"] == defaults["access_log"]
    (options,) = application["deployments"]
    assert options.pop("name") == deployment.Recommender.name
    assert options == DEPLOYMENT_OPTIONS

    cli = {
        name: p.default.default for name, p in inspect.signature(serve_command).parameters.items()
    }
    assert (cli["host"], cli["port"]) == (DEFAULT_HOST, DEFAULT_PORT)
    assert cli["dataset"] == defaults["dataset"] and cli["access_log"] == defaults["access_log"]
    assert cli["reload_interval"] == defaults["reload_interval_s"]

    replica = inspect.signature(deployment.Recommender.func_or_class.__wrapped__.__init__)
    for name, parameter in replica.parameters.items():
        if parameter.default is not inspect.Parameter.empty:
            assert parameter.default == defaults[name], name
    assert deployment.Recommender.ray_actor_options == DEPLOYMENT_OPTIONS["ray_actor_options"]
    assert deployment.Recommender.max_ongoing_requests == DEPLOYMENT_OPTIONS["max_ongoing_requests"]

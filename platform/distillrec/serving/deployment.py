"""The Ray Serve deployment: FastAPI routes, dynamic batching and champion switching.

- Requests are validated (schemas + catalogue) on arrival, then scored in dynamic batches
  (``@serve.batch``): concurrent requests share one forward pass of the student.
- Champion switching never drops a request: a new version is loaded in a worker thread while the
  old one keeps answering, then swapped in with one assignment. Each request keeps the model it was
  validated against until it is answered. Switching happens on ``POST /admin/reload`` (the replica
  that receives it, at once) and on a periodic alias check in every replica
  (``reload_interval_s``, default 30 s; 0 turns it off).
- Replicas take a fraction of a CPU and autoscale on ongoing requests; see docs/serving.md.
- Scores that are not finite (NaN/inf) are never returned: that request gets 503
  ``non_finite_scores`` and ``/healthz`` answers 503 until another version is loaded.
- ``POST /admin/reload`` is off unless the service was started with ``DISTILLREC_ADMIN_TOKEN``
  (then it needs that bearer token) and is rate-limited per replica (``serving.admin``).
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from fastapi import Depends, FastAPI
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from ray import serve

from distillrec import __version__
from distillrec.errors import UserError
from distillrec.serving.admin import ReloadGuard
from distillrec.serving.docs import install_offline_docs, set_recommend_examples
from distillrec.serving.http_errors import (
    ApiError,
    BodySizeLimit,
    install_error_handlers,
)
from distillrec.serving.ingress import keep_replica_grpc_on_loopback
from distillrec.serving.model_loading import LoadedModel
from distillrec.serving.schemas import (
    ErrorResponse,
    HealthResponse,
    Item,
    RecommendRequest,
    RecommendResponse,
    ReloadResponse,
    ScoredItem,
)
from distillrec.serving.settings import DEPLOYMENT_OPTIONS, SERVE_DEFAULTS, ServeArgs
from distillrec.serving.switching import ChampionHolder

logger = logging.getLogger("ray.serve")

ERRORS = {code: {"model": ErrorResponse} for code in (400, 404, 405, 413, 422, 503)}
ADMIN_ERRORS = {code: {"model": ErrorResponse} for code in (401, 403, 405, 409, 413, 429)}
admin_bearer = HTTPBearer(auto_error=False, description="the service's DISTILLREC_ADMIN_TOKEN")

api = FastAPI(
    title="distillrec",
    version=__version__,
    description="Next-item recommendations from the distilled student registered as champion.",
    docs_url=None,  # served from local files by install_offline_docs: no CDN needed
    redoc_url=None,
)
install_offline_docs(api)
install_error_handlers(api)
api.add_middleware(BodySizeLimit)


@dataclass(frozen=True)
class ScoreJob:
    """One validated request waiting in a batch, with the champion it was validated against."""

    champion: LoadedModel
    history: list[int]
    k: int
    exclude_history: bool


def score_jobs(jobs: list[ScoreJob]) -> list[list[tuple[int, float]] | None]:
    """Score a batch: one ``rank`` call per (model, exclude_history) group, at the largest k.

    The top-k of a request is the prefix of the group's top-max(k) list, so slicing is exact.
    A request whose scores are not all finite gets ``None`` (the others are unaffected).
    """
    groups: dict[tuple[int, bool], list[int]] = defaultdict(list)
    for index, job in enumerate(jobs):
        groups[(id(job.champion), job.exclude_history)].append(index)
    results: list[list[tuple[int, float]] | None] = [None for _ in jobs]
    for (_, exclude), members in groups.items():
        student = jobs[members[0]].champion.student
        k = max(jobs[i].k for i in members)
        ranked = student.rank([jobs[i].history for i in members], k, exclude_history=exclude)
        for i, row in zip(members, ranked, strict=True):
            if row is not None:
                results[i] = [(int(item), float(score)) for item, score in row[: jobs[i].k]]
    return results


@serve.deployment(**DEPLOYMENT_OPTIONS)
@serve.ingress(api)
class Recommender:
    """Serves one registered model (normally ``models:/distillrec-<dataset>@champion``)."""

    def __init__(
        self,
        model_uri: str,
        tracking_uri: str,
        reload_interval_s: float = SERVE_DEFAULTS.reload_interval_s,
        max_body_bytes: int = SERVE_DEFAULTS.max_body_bytes,
        torch_threads: int = SERVE_DEFAULTS.torch_threads,
        max_batch_size: int = SERVE_DEFAULTS.max_batch_size,
        batch_wait_timeout_s: float = SERVE_DEFAULTS.batch_wait_timeout_s,
        reload_min_interval_s: float = SERVE_DEFAULTS.reload_min_interval_s,
        *,
        admin_token_digest: str | None,
    ) -> None:
        import torch

        torch.set_num_threads(torch_threads)
        keep_replica_grpc_on_loopback()  # before Serve starts this replica's gRPC server
        self._reload_guard = ReloadGuard(admin_token_digest, reload_min_interval_s)
        self._holder = ChampionHolder(model_uri, tracking_uri)
        self._holder.start_polling(reload_interval_s)
        api.state.max_body_bytes = max_body_bytes
        self._score_batch.set_max_batch_size(max_batch_size)
        self._score_batch.set_batch_wait_timeout_s(batch_wait_timeout_s)
        set_recommend_examples(api, self._holder.current.catalogue.titles)
        logger.info("serving %s (%s)", self._holder.current.info, model_uri)

    def __del__(self) -> None:
        if hasattr(self, "_holder"):  # absent when the constructor failed
            self._holder.stop()

    @api.post("/recommend", response_model=RecommendResponse, responses=ERRORS)
    async def recommend(self, request: RecommendRequest) -> RecommendResponse:
        """Top-k next items for a history. The model sees the latest max_history items;
        exclude_history leaves out every item sent. 503 if the model's scores are not finite."""
        champion = self._holder.current  # this request's snapshot, even if a switch happens
        if request.history is not None:
            history = champion.catalogue.check_ids(request.history)
        else:
            history = champion.catalogue.ids_for_titles(request.history_titles or [])
        ranked = await self._score_batch(
            ScoreJob(champion, history, request.k, request.exclude_history)
        )
        if ranked is None:
            self._holder.report_non_finite(champion)
            raise ApiError(
                503,
                "non_finite_scores",
                f"model {champion.info.name} version {champion.info.version} produced non-finite "
                "scores (NaN/inf) for this history: no meaningful ranking to return",
            )
        titles = champion.catalogue.titles
        items = [ScoredItem(item_id=i, title=titles[i], score=s) for i, s in ranked]
        used = min(len(history), champion.max_history)
        return RecommendResponse(items=items, model=champion.info, history_used=used)

    @api.get("/items/{item_id}", response_model=Item, responses=ERRORS)
    async def item(self, item_id: int) -> Item:
        """One catalogue item by id."""
        return self._holder.current.catalogue.item(item_id)

    @api.get(
        "/healthz",
        response_model=HealthResponse,
        responses={405: ERRORS[405], 503: {"model": HealthResponse}},
    )
    async def healthz(self) -> HealthResponse | JSONResponse:
        """Liveness and the loaded model; 503 when the model has produced non-finite scores."""
        champion = self._holder.current
        fault = self._holder.fault
        health = HealthResponse(
            status="unhealthy" if fault else "ok",
            model=champion.info,
            num_items=champion.catalogue.num_items,
            max_history=champion.max_history,
            detail=fault,
        )
        if fault:
            return JSONResponse(status_code=503, content=health.model_dump())
        return health

    @api.post("/admin/reload", response_model=ReloadResponse, responses=ADMIN_ERRORS)
    async def admin_reload(
        self, credentials: HTTPAuthorizationCredentials | None = Depends(admin_bearer)
    ) -> ReloadResponse:
        """Re-resolve the alias now and switch this replica to the new version, if any.

        Off unless the service was started with DISTILLREC_ADMIN_TOKEN (then send it as a bearer
        token); at most one reload per reload_min_interval_s per replica (429 otherwise)."""
        self._reload_guard.check(credentials.credentials if credentials else None)
        try:
            previous, current = await asyncio.to_thread(self._holder.reload)
        except UserError as err:
            message = f"{err}; still serving the previous model"
            raise ApiError(409, "reload_failed", message) from None
        return ReloadResponse(changed=previous != current, previous=previous, model=current)

    @serve.batch(
        max_batch_size=SERVE_DEFAULTS.max_batch_size,
        batch_wait_timeout_s=SERVE_DEFAULTS.batch_wait_timeout_s,
    )
    async def _score_batch(self, jobs: list[ScoreJob]) -> list[list[tuple[int, float]] | None]:
        # Inline on the replica's user event loop: a batch takes a few milliseconds, and requests
        # arriving meanwhile queue up for the next batch (a thread hop cost more than it saved).
        return score_jobs(jobs)


def build_app(args: dict[str, Any] | Any = None) -> Any:
    """Application builder for ``serve run``/``serve deploy`` (args from config.yaml or CLI).

    Serve requires exactly one parameter here; :func:`recommender_app` takes deployment options.
    """
    return recommender_app(args)


def recommender_app(args: dict[str, Any] | Any = None, **deployment_options: Any) -> Any:
    """The bound application; ``deployment_options`` override the decorator's (e.g. replicas)."""
    from distillrec.config import validate

    if not isinstance(args, ServeArgs):
        args = validate(ServeArgs, args or {}, "serve args")
    settings: ServeArgs = args
    options = {"logging_config": {"enable_access_log": settings.access_log}} | deployment_options
    return Recommender.options(**options).bind(**settings.deployment_kwargs())

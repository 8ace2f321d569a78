"""The Ray Serve deployment: FastAPI routes, dynamic batching and champion switching.

- Requests are validated (schemas + catalogue) on arrival, then scored in dynamic batches
  (``@serve.batch``): concurrent requests share one forward pass of the student.
- Champion switching never drops a request: a new version is loaded in a worker thread while the
  old one keeps answering, then swapped in with one assignment. Each request keeps the model it was
  validated against until it is answered. Switching happens on ``POST /admin/reload`` (the replica
  that receives it, at once) and on a periodic alias check in every replica
  (``reload_interval_s``, default 30 s; 0 turns it off).
- Replicas take a fraction of a CPU and autoscale on ongoing requests; see docs/serving.md.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI
from ray import serve

from distillrec import __version__
from distillrec.errors import UserError
from distillrec.serving.docs import install_offline_docs, set_recommend_examples
from distillrec.serving.http_errors import (
    ApiError,
    BodySizeLimit,
    install_error_handlers,
)
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

ERRORS = {code: {"model": ErrorResponse} for code in (400, 404, 413, 422)}

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


def score_jobs(jobs: list[ScoreJob]) -> list[list[tuple[int, float]]]:
    """Score a batch: one ``recommend`` call per (model, exclude_history) group, at the largest k.

    The top-k of a request is the prefix of the group's top-max(k) list, so slicing is exact.
    """
    groups: dict[tuple[int, bool], list[int]] = defaultdict(list)
    for index, job in enumerate(jobs):
        groups[(id(job.champion), job.exclude_history)].append(index)
    results: list[list[tuple[int, float]]] = [[] for _ in jobs]
    for (_, exclude), members in groups.items():
        student = jobs[members[0]].champion.student
        k = max(jobs[i].k for i in members)
        ranked = student.recommend([jobs[i].history for i in members], k, exclude_history=exclude)
        for i, row in zip(members, ranked, strict=True):
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
    ) -> None:
        import torch

        torch.set_num_threads(torch_threads)
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
        """Top-k next items for a history; histories over max_history keep their latest items."""
        champion = self._holder.current  # this request's snapshot, even if a switch happens
        if request.history is not None:
            history = champion.catalogue.check_ids(request.history)
        else:
            history = champion.catalogue.ids_for_titles(request.history_titles or [])
        history = history[-champion.max_history :]
        ranked = await self._score_batch(
            ScoreJob(champion, history, request.k, request.exclude_history)
        )
        titles = champion.catalogue.titles
        items = [ScoredItem(item_id=i, title=titles[i], score=s) for i, s in ranked]
        return RecommendResponse(items=items, model=champion.info, history_used=len(history))

    @api.get("/items/{item_id}", response_model=Item, responses=ERRORS)
    async def item(self, item_id: int) -> Item:
        """One catalogue item by id."""
        return self._holder.current.catalogue.item(item_id)

    @api.get("/healthz", response_model=HealthResponse)
    async def healthz(self) -> HealthResponse:
        """Liveness and the loaded model."""
        champion = self._holder.current
        return HealthResponse(
            status="ok",
            model=champion.info,
            num_items=champion.catalogue.num_items,
            max_history=champion.max_history,
        )

    @api.post("/admin/reload", response_model=ReloadResponse, responses={409: ERRORS[400]})
    async def admin_reload(self) -> ReloadResponse:
        """Re-resolve the alias now and switch this replica to the new version, if any."""
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
    async def _score_batch(self, jobs: list[ScoreJob]) -> list[list[tuple[int, float]]]:
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

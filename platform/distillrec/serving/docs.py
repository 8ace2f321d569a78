"""``/docs`` without the internet, and ``/recommend`` examples that work on the served catalogue.

FastAPI's default ``/docs`` page loads Swagger UI's JavaScript and CSS from a CDN, so on a machine
without internet it stays blank. Here the page is FastAPI's own ``get_swagger_ui_html`` (its
documented self-hosting recipe) pointed at the Swagger UI files that the ``fastapi-offline`` package
ships (Swagger UI 5, which renders the OpenAPI 3.1 schema FastAPI writes), served by the service
itself under :data:`STATIC_PATH`. ReDoc (``/redoc``) is served the same way.

The request examples of ``POST /recommend`` (the body "Try it out" starts from) are rebuilt when a
replica loads its model, from real ids and unambiguous titles of that catalogue, so they answer 200
on any dataset.
"""

from __future__ import annotations

from collections import Counter
from importlib.resources import files
from typing import Any

from fastapi import FastAPI, Request
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

STATIC_PATH = "/docs-static"
DOCS_PATH = "/docs"
REDOC_PATH = "/redoc"
RECOMMEND_PATH = "/recommend"


def swagger_assets_dir() -> str:
    """The folder of Swagger UI / ReDoc files inside the installed ``fastapi-offline`` package."""
    return str(files("fastapi_offline") / "static")


def install_offline_docs(api: FastAPI) -> None:
    """Serve ``/docs``, ``/redoc`` and their assets from this process (``api`` was created with
    ``docs_url=None, redoc_url=None``)."""
    api.mount(STATIC_PATH, StaticFiles(directory=swagger_assets_dir()), name="docs-static")
    redirect = api.swagger_ui_oauth2_redirect_url or f"{DOCS_PATH}/oauth2-redirect"

    @api.get(DOCS_PATH, include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_swagger_ui_html(
            openapi_url=f"{root}{api.openapi_url}",
            title=f"{api.title} - Swagger UI",
            oauth2_redirect_url=f"{root}{redirect}",
            swagger_js_url=f"{root}{STATIC_PATH}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{STATIC_PATH}/swagger-ui.css",
            swagger_favicon_url=f"{root}{STATIC_PATH}/favicon.png",
            # no badge from the online validator (validator.swagger.io): nothing leaves the box
            swagger_ui_parameters={**(api.swagger_ui_parameters or {}), "validatorUrl": None},
        )

    @api.get(redirect, include_in_schema=False)
    async def swagger_ui_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    @api.get(REDOC_PATH, include_in_schema=False)
    async def redoc(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_redoc_html(
            openapi_url=f"{root}{api.openapi_url}",
            title=f"{api.title} - ReDoc",
            redoc_js_url=f"{root}{STATIC_PATH}/redoc.standalone.js",
            redoc_favicon_url=f"{root}{STATIC_PATH}/favicon.png",
            with_google_fonts=False,
        )


def recommend_examples(titles: list[str], count: int = 3) -> dict[str, dict[str, Any]]:
    """OpenAPI examples for ``POST /recommend``: the first ``count`` items whose title no other
    item shares, by id and by title (fewer when the catalogue is smaller)."""
    shared = Counter(titles)
    chosen = [i for i, title in enumerate(titles) if title and shared[title] == 1][:count]
    by_ids = {"history": chosen, "k": 5}
    by_titles = {"history_titles": [titles[i] for i in chosen], "k": 5}
    return {
        "ids": {"summary": "History as item ids, oldest first", "value": by_ids},
        "titles": {"summary": "History as exact item titles", "value": by_titles},
    }


def set_recommend_examples(api: FastAPI, titles: list[str]) -> None:
    """Put :func:`recommend_examples` of this catalogue into ``api``'s (cached) OpenAPI schema."""
    schema = api.openapi()
    body = schema["paths"][RECOMMEND_PATH]["post"]["requestBody"]["content"]["application/json"]
    body["examples"] = recommend_examples(titles)

"""Every bad request becomes a 4xx JSON ``{"error": code, "message": ...}``, never a 500.

FastAPI's own errors (validation, malformed JSON, unknown routes) are reshaped to the same body, and
:class:`BodySizeLimit` rejects oversized bodies with 413 before anything parses them.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from distillrec.serving.settings import DEFAULT_MAX_BODY_BYTES

# FastAPI raises 400 only when it cannot parse the body (e.g. bytes that are not UTF-8).
HTTP_ERROR_CODES = {400: "malformed_json", 404: "not_found", 405: "method_not_allowed"}


class ApiError(Exception):
    """A request the service understood but cannot answer (unknown item, ambiguous title...)."""

    def __init__(
        self, status_code: int, error: str, message: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.error = error
        self.message = message
        self.headers = headers


def error_response(
    status_code: int, error: str, message: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    content = {"error": error, "message": message}
    return JSONResponse(status_code=status_code, content=content, headers=headers)


def describe_validation_error(err: dict[str, Any]) -> str:
    """One line per pydantic error: ``body.k: Input should be <= 100 (got 500)``."""
    loc = [str(p) for p in err.get("loc", ()) if p != "body"]
    where = ".".join(loc) if loc else "body"
    message = str(err.get("msg", "invalid value")).removeprefix("Value error, ")
    if "input" in err and not isinstance(err["input"], dict | list):
        return f"{where}: {message} (got {err['input']!r})"
    return f"{where}: {message}"


async def _on_validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
    errors = list(exc.errors())
    if any(e.get("type") == "json_invalid" for e in errors):
        detail = next(e for e in errors if e.get("type") == "json_invalid")
        reason = (detail.get("ctx") or {}).get("error", "invalid JSON")
        return error_response(400, "malformed_json", f"request body is not valid JSON: {reason}")
    message = "; ".join(describe_validation_error(e) for e in errors[:3])
    if len(errors) > 3:
        message += f" [+{len(errors) - 3} more]"
    return error_response(422, "invalid_request", message)


async def _on_http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
    code = HTTP_ERROR_CODES.get(exc.status_code, "http_error")
    # Keep Starlette's headers: a 405 carries ``Allow`` (the methods the route does support).
    return error_response(exc.status_code, code, str(exc.detail), getattr(exc, "headers", None))


async def _on_api_error(_: Request, exc: ApiError) -> JSONResponse:
    return error_response(exc.status_code, exc.error, exc.message, exc.headers)


def install_error_handlers(app: FastAPI) -> None:
    """Route FastAPI's and our own errors to the one JSON error shape."""
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(StarletteHTTPException, _on_http_error)
    app.add_exception_handler(ApiError, _on_api_error)


class BodySizeLimit:
    """Pure ASGI middleware: 413 for request bodies over ``max_bytes`` (declared or streamed).

    The body is read (at most one chunk past the limit) before the app sees it, so a client that
    lies in Content-Length or streams chunks cannot make the app buffer more than the limit. The
    app may override the limit per process with ``app.state.max_body_bytes``.
    """

    def __init__(self, app: ASGIApp, max_bytes: int = DEFAULT_MAX_BODY_BYTES) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = getattr(getattr(scope.get("app"), "state", None), "max_body_bytes", self.max_bytes)
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await self._reject(limit, scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away: nobody is waiting for an answer
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            more = message.get("more_body", False)
            if size > limit:
                await self._reject(limit, scope, receive, send)
                return
        body = b"".join(chunks)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    @staticmethod
    async def _reject(limit: int, scope: Scope, receive: Receive, send: Send) -> None:
        response = error_response(
            413, "body_too_large", f"request body is over the limit of {limit} bytes"
        )
        await response(scope, receive, send)

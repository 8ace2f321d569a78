"""Who may call ``POST /admin/reload``, and how often.

The endpoint is off unless the service was started with ``DISTILLREC_ADMIN_TOKEN`` set; then a
request must carry ``Authorization: Bearer <token>``. Only the token's SHA-256 digest travels to the
replicas (it is a deployment argument, stored by Serve's controller), and requests are compared
against it in constant time. Authenticated reloads are rate-limited per replica: each one queries
the registry and may load a model, so a flood of them slows ``/recommend`` for everyone.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import os
import threading
import time

ENV_ADMIN_TOKEN = "DISTILLREC_ADMIN_TOKEN"
DEFAULT_RELOAD_MIN_INTERVAL_S = 2.0
MIN_TOKEN_LENGTH = 16


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def admin_token_digest_from_env() -> str | None:
    """The digest of ``$DISTILLREC_ADMIN_TOKEN`` (None when unset: reload is off)."""
    from distillrec.errors import UserError

    token = os.environ.get(ENV_ADMIN_TOKEN, "")
    if not token:
        return None
    if len(token) < MIN_TOKEN_LENGTH:
        raise UserError(
            f"{ENV_ADMIN_TOKEN}: the admin token must be at least {MIN_TOKEN_LENGTH} characters "
            "(e.g. `python -c 'import secrets; print(secrets.token_urlsafe(32))'`)"
        )
    return token_digest(token)


class ReloadGuard:
    """Authentication and a minimum interval between accepted reloads (one replica)."""

    def __init__(self, token_digest: str | None, min_interval_s: float) -> None:
        self.token_digest = token_digest
        self.min_interval_s = min_interval_s
        self._last = -math.inf
        self._lock = threading.Lock()

    def check(self, bearer: str | None) -> None:
        """Return if this reload may run now; else raise 403 (off), 401 (token) or 429 (rate)."""
        from distillrec.serving.http_errors import ApiError  # imports settings, which imports us

        if self.token_digest is None:
            raise ApiError(
                403,
                "reload_disabled",
                f"POST /admin/reload is off: start the service with {ENV_ADMIN_TOKEN} set to "
                "enable it (replicas still follow the alias every reload_interval_s)",
            )
        given = token_digest(bearer or "")
        if bearer is None or not hmac.compare_digest(given, self.token_digest):
            raise ApiError(
                401,
                "unauthorized",
                "POST /admin/reload needs 'Authorization: Bearer <token>' with the service's "
                f"{ENV_ADMIN_TOKEN}",
                headers={"WWW-Authenticate": "Bearer"},
            )
        with self._lock:
            now = time.monotonic()
            wait = self._last + self.min_interval_s - now
            if wait > 0:
                raise ApiError(
                    429,
                    "rate_limited",
                    f"one reload per {self.min_interval_s:g} s per replica; retry in {wait:.1f} s",
                    headers={"Retry-After": str(math.ceil(wait))},
                )
            self._last = now

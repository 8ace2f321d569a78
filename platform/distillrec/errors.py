"""User-facing errors: one clear line and exit code 2, never a traceback for user mistakes."""

from __future__ import annotations

import functools
import gc
import sys
from collections.abc import Callable
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
R = TypeVar("R")

USER_ERROR_EXIT_CODE = 2


class UserError(Exception):
    """A mistake in the user's input (file, field, value): reported as one line, exit code 2.

    The message must name the file/field/value and the problem, e.g.
    ``"u.data line 17: item id 'x' is not an integer"``.
    """


def exit_on_user_error(func: Callable[P, R]) -> Callable[P, R]:
    """Decorate a CLI/job entry point so a :class:`UserError` (or a :func:`known_failure` of
    the environment) prints one line and exits 2."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except Exception as exc:
            message = str(exc) if isinstance(exc, UserError) else known_failure(exc)
            if message is None:
                raise
        print(f"error: {message}", file=sys.stderr)
        # free what the failed command held (Arrow readers, thread pools) while the native
        # libraries are alive: left to interpreter teardown, Arrow can abort the process
        # ("terminate called without an active exception", apache/arrow#34314)
        gc.collect()
        raise SystemExit(USER_ERROR_EXIT_CODE)

    return wrapper


def known_failure(exc: BaseException) -> str | None:
    """One line for environment failures a user can fix (None: a bug, keep the traceback).

    A locked sqlite MLflow store surfaces as an ``OperationalError`` deep in SQLAlchemy (often
    wrapped in an ``MlflowException``); it means another process holds the database.
    """
    seen: BaseException | None = exc
    while seen is not None:
        if "database is locked" in str(seen):
            return (
                f"MLflow store {_tracking_uri()}: the sqlite database is locked by another "
                "process (a run still writing, or one that hung); retry when it is done, or use "
                "an MLflow server for many concurrent writers"
            )
        seen = seen.__cause__ or seen.__context__
    return None


def _tracking_uri() -> str:
    mlflow = sys.modules.get("mlflow")
    return mlflow.get_tracking_uri() if mlflow is not None else "(unknown)"

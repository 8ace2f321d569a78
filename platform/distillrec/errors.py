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
    """Decorate a CLI/job entry point so a :class:`UserError` prints one line and exits 2."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except UserError as err:
            print(f"error: {err}", file=sys.stderr)
            # free what the failed command held (Arrow readers, thread pools) while the native
            # libraries are alive: left to interpreter teardown, Arrow can abort the process
            # ("terminate called without an active exception", apache/arrow#34314)
            del err
            gc.collect()
            raise SystemExit(USER_ERROR_EXIT_CODE) from None

    return wrapper

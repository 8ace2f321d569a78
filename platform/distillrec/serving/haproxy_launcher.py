"""Start Ray Serve's HAProxy with the ingress hardened (stdlib only: runs as ``python -I -S``).

Ray 2.60 renders HAProxy's configuration from a fixed template: the stats page binds ``*:<port>``,
the Prometheus exporter ``:<port>`` (all interfaces), and there is no ``timeout http-request``.
Ray's one hook on the process is ``RAY_SERVE_HAPROXY_BINARY_PATH``; :mod:`distillrec.serving.
ingress` points it at a script that runs this file, which, before exec'ing the real binary with
the same arguments (same pid, so Ray's bookkeeping is unchanged):

1. rewrites the configuration Ray just wrote (``-f <file>``): the stats and metrics listeners bind
   the serve host (loopback when Serve listens on a wildcard address), and ``defaults`` gains
   ``timeout http-request`` so a client that never finishes its request headers is cut off;
2. asks the kernel to SIGTERM HAProxy when its parent (Serve's HAProxy manager actor) dies, so a
   killed ``distillrec serve`` or ``ray stop`` leaves no orphaned HAProxy holding the port.
"""

from __future__ import annotations

import os
import re
import signal
import sys

ENV_REAL_BINARY = "DISTILLREC_HAPROXY_REAL_BINARY"
ENV_HTTP_REQUEST_TIMEOUT_S = "DISTILLREC_HAPROXY_HTTP_REQUEST_TIMEOUT_S"
WILDCARDS = {"", "*", "0.0.0.0", "::", "[::]"}
_FRONTEND_BIND = re.compile(r"^frontend http_frontend\n\s+bind (?P<host>\S*):\d+", re.M)
_METRICS_BIND = re.compile(r"^(frontend prometheus\n\s+bind )\S*:(\d+)", re.M)
_STATS_BIND = re.compile(r"^(listen stats\n\s+bind )\S*:(\d+)", re.M)
_DEFAULTS = re.compile(r"^defaults\n", re.M)


def harden_config(text: str, http_request_timeout_s: int | None) -> str:
    """The configuration with stats/metrics bound to the serve host and a request timeout."""
    match = _FRONTEND_BIND.search(text)
    host = match["host"] if match else ""
    if host in WILDCARDS:
        host = "127.0.0.1"
    text = _METRICS_BIND.sub(lambda m: f"{m[1]}{host}:{m[2]}", text)
    text = _STATS_BIND.sub(lambda m: f"{m[1]}{host}:{m[2]}", text)
    if http_request_timeout_s and not re.search(r"^\s+timeout http-request ", text, re.M):
        timeout = f"    timeout http-request {int(http_request_timeout_s)}s\n"
        text = _DEFAULTS.sub(lambda m: m[0] + timeout, text, count=1)
    return text


def rewrite_in_place(path: str, http_request_timeout_s: int | None) -> None:
    with open(path) as f:
        text = f.read()
    hardened = harden_config(text, http_request_timeout_s)
    if hardened != text:
        tmp = f"{path}.distillrec.tmp"
        with open(tmp, "w") as f:
            f.write(hardened)
        os.replace(tmp, path)


def die_with_parent() -> None:
    """PR_SET_PDEATHSIG(SIGTERM): survives exec; exit now if the parent is already gone."""
    parent = os.getppid()
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM, 0, 0, 0)  # 1 = PR_SET_PDEATHSIG (Linux)
    except (OSError, AttributeError):
        return  # not Linux: nothing to ask for
    if os.getppid() != parent:
        sys.exit(1)


def main(argv: list[str]) -> None:
    real = os.environ.get(ENV_REAL_BINARY)
    if not real:
        sys.exit(f"{ENV_REAL_BINARY} is not set: which HAProxy binary to run?")
    if "-f" in argv[:-1]:
        timeout = os.environ.get(ENV_HTTP_REQUEST_TIMEOUT_S)
        rewrite_in_place(argv[argv.index("-f") + 1], int(timeout) if timeout else None)
    die_with_parent()
    os.execv(real, [real, *argv])


if __name__ == "__main__":
    main(sys.argv[1:])

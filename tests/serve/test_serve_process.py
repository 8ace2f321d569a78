"""`distillrec serve` as a real process (issues 15 and 16): a busy port is one line and exit 2;
beside another service on the same host it starts, its HAProxy listens only on the serve host
(stats and metrics on ports of their own), it keeps answering /healthz under a flood of idle
half-sent connections, /admin/reload is off without a token, and once the process is killed
nothing of it keeps listening (no orphaned HAProxy)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import psutil
import pytest

pytestmark = pytest.mark.integration
FLOOD_MAXCONN = 200  # HAProxy's connection limit in the flood test (default: 8,192 or the fd limit)
FLOOD_CONNECTIONS = 260  # more than the limit: only the request timeout can free slots
REQUEST_TIMEOUT_S = 2  # timeout http-request in the flood test (default 10 s)
LOOPBACK = ("127.0.0.1", "[::ffff:127.0.0.1]")


def serve_command(registry, port: int) -> list[str]:
    command = [sys.executable, "-m", "distillrec.cli", "serve", "--model", registry.champion_uri]
    command += ["--tracking-uri", registry.tracking_uri, "--port", str(port)]
    return command + ["--reload-interval", "0"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_busy_port_is_one_line_and_exit_2(registry) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        done = subprocess.run(
            serve_command(registry, port), capture_output=True, text=True, timeout=120
        )
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and f"127.0.0.1:{port} is already in use" in lines[0], done.stderr
    assert "Traceback" not in done.stderr


@dataclass
class Listener:
    address: str
    port: int
    process: str


def listeners(pids: set[int]) -> list[Listener]:
    """TCP listening sockets of these processes (``ss``, which sees this user's processes)."""
    out = subprocess.run(["ss", "-ltnpH"], capture_output=True, text=True, check=True).stdout
    found = []
    for line in out.splitlines():
        if any(f"pid={pid}," in line for pid in pids):
            address, _, port = line.split()[3].rpartition(":")
            found.append(Listener(address, int(port), line.split('"')[1]))
    return found


def process_tree(pid: int) -> set[int]:
    return {pid} | {child.pid for child in psutil.Process(pid).children(recursive=True)}


def alive(pids: set[int]) -> set[int]:
    living = set()
    for pid in pids:
        try:
            if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                living.add(pid)
        except psutil.NoSuchProcess:
            pass
    return living


@pytest.fixture(scope="module")
def served(service: str, registry) -> Iterator[tuple[subprocess.Popen, str]]:
    """`distillrec serve` in its own process (its own local Ray) while the module's `service`
    (another Serve with its own HAProxy) runs in this one; small limits for the flood test."""
    from distillrec.serving.ingress import local_ingress_env

    port = free_port()
    env = dict(os.environ)
    for key in ("RAY_ADDRESS", "DISTILLREC_ADMIN_TOKEN"):
        env.pop(key, None)
    for key in local_ingress_env():
        env.pop(key, None)  # ports etc. chosen afresh by the new process, as on a fresh shell
    env["RAY_SERVE_HAPROXY_MAXCONN"] = str(FLOOD_MAXCONN)
    env["DISTILLREC_HAPROXY_HTTP_REQUEST_TIMEOUT_S"] = str(REQUEST_TIMEOUT_S)
    process = subprocess.Popen(
        serve_command(registry, port), env=env, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True, start_new_session=True,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 240
    try:
        while True:
            assert process.poll() is None, process.stdout.read()
            try:
                if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "distillrec serve did not come up in 240 s"
            time.sleep(0.5)
        yield process, url
    finally:
        for pid in alive(process_tree(process.pid)) if process.poll() is None else ():
            os.kill(pid, signal.SIGKILL)


def haproxy_of(pids: set[int]) -> set[int]:
    return {pid for pid in alive(pids) if "haproxy" in psutil.Process(pid).name()}


def test_two_services_on_one_host_listen_only_on_loopback(served, service: str) -> None:
    process, url = served
    assert httpx.get(f"{service}/healthz", timeout=10).status_code == 200  # the other one
    ours = haproxy_of(process_tree(process.pid))
    assert ours, "no HAProxy under distillrec serve"
    ports = [listener.port for listener in listeners(ours)]
    assert len(ports) == 3 and 8404 not in ports and 9101 not in ports, (
        ports
    )  # http, stats, metrics
    theirs = haproxy_of(process_tree(os.getpid()) - process_tree(process.pid))
    assert theirs, "no HAProxy under this test session's Serve"
    assert not {listener.port for listener in listeners(theirs)} & set(ports)
    exposed = [
        x for x in listeners(process_tree(process.pid)) if not x.address.startswith(LOOPBACK)
    ]
    assert not exposed, exposed  # incl. the replica gRPC server Ray 2.60 binds to [::]
    stats = [x.port for x in listeners(ours) if x.port != int(url.rsplit(":", 1)[1])]
    for port in stats:  # HAProxy's stats page and Prometheus exporter answer HTTP on loopback
        assert httpx.get(f"http://127.0.0.1:{port}/stats", timeout=5).status_code > 0


def test_reload_is_off_without_a_token(served) -> None:
    _, url = served
    response = httpx.post(f"{url}/admin/reload", timeout=10)
    assert response.status_code == 403, response.text
    assert response.json()["error"] == "reload_disabled"


def test_healthz_answers_under_idle_half_sent_connections(served) -> None:
    """More idle half-sent connections than HAProxy's connection limit: /healthz still answers
    (once `timeout http-request` frees the slots), and HAProxy closes the idle ones itself."""
    _, url = served
    host, port = "127.0.0.1", int(url.rsplit(":", 1)[1])
    flood = []
    try:
        for _ in range(FLOOD_CONNECTIONS):
            sock = socket.create_connection((host, port), timeout=5)
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")  # headers never finished
            flood.append(sock)
        started = time.monotonic()
        response = httpx.get(f"{url}/healthz", timeout=REQUEST_TIMEOUT_S + 20)
        waited = time.monotonic() - started
        assert response.status_code == 200 and waited < REQUEST_TIMEOUT_S + 10, waited
        time.sleep(REQUEST_TIMEOUT_S + 1)
        closed = 0
        for sock in flood:
            sock.settimeout(3)
            try:
                sock.recv(1024)  # 408 and/or EOF: HAProxy dropped the idle client
                closed += 1
            except TimeoutError:
                pass
            except OSError:
                closed += 1
        assert closed == len(flood), f"{len(flood) - closed} idle connections still held"
    finally:
        for sock in flood:
            sock.close()


def test_nothing_keeps_listening_after_kill(served) -> None:
    """SIGKILL `distillrec serve`; then end what is left of its Ray (what `ray stop` does, for
    this cluster only): no HAProxy survives and its ports are free."""
    process, url = served
    tree = process_tree(process.pid)
    ports = {listener.port for listener in listeners(haproxy_of(tree))}
    assert len(ports) == 3
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    deadline = time.monotonic() + 30
    while haproxy_of(tree) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not haproxy_of(tree), "HAProxy outlived its distillrec serve (orphan)"
    # the remaining Ray processes, as `ray stop` ends them (scoped to this cluster): SIGTERM, then
    # SIGKILL after a grace period (Ray's dashboard and runtime-env agents ignore SIGTERM)
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in alive(tree):
            os.kill(pid, sig)
        deadline = time.monotonic() + 10
        while alive(tree) and time.monotonic() < deadline:
            time.sleep(0.5)
    assert not listeners(tree)
    for port in ports:  # bindable again: nobody holds them
        with socket.socket() as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(("127.0.0.1", port))

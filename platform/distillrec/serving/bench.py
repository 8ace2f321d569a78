"""HTTP load against a running service (the library behind ``jobs/bench_serve.py``).

Two measurements, both bounded in time, both from this (separate) process over loopback:

- **fixed rate** (open loop): request ``i`` is due at ``start + i / rate`` whether or not earlier
  ones have answered; latency is measured from the due time, so a stalled server cannot hide its
  queueing (no coordinated omission). Any non-200 answer, timeout or connection error is an error.
- **saturation** (closed loop): ``concurrency`` clients send back to back; completed requests per
  second is the maximum sustained throughput.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from distillrec.errors import UserError

JSON_HEADERS = {"content-type": "application/json"}


@dataclass
class LoadResult:
    """Latency percentiles (milliseconds) and error counts of one load phase."""

    mode: str
    duration_s: float
    sent: int
    ok: int
    achieved_rps: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float
    offered_rps: float | None = None
    concurrency: int | None = None
    errors: dict[str, int] = field(default_factory=dict)

    @property
    def num_errors(self) -> int:
        return sum(self.errors.values())


def make_payloads(num_items: int, max_history: int, count: int, k: int, seed: int) -> list[bytes]:
    """Random request bodies: histories of 1..max_history distinct valid ids (seeded)."""
    rng = random.Random(seed)
    bodies = []
    for _ in range(count):
        length = rng.randint(1, min(max_history, num_items))
        history = rng.sample(range(num_items), length)
        bodies.append(json.dumps({"history": history, "k": k}).encode())
    return bodies


def summarise(mode: str, latencies: list[float], errors: Counter, elapsed: float) -> LoadResult:
    ms = np.asarray(latencies, dtype=np.float64) * 1000.0
    pct = np.percentile(ms, [50, 95, 99]) if len(ms) else [float("nan")] * 3
    return LoadResult(
        mode=mode,
        duration_s=round(elapsed, 3),
        sent=len(latencies) + sum(errors.values()),
        ok=len(latencies),
        achieved_rps=round(len(latencies) / elapsed, 1) if elapsed > 0 else 0.0,
        p50_ms=round(float(pct[0]), 2),
        p95_ms=round(float(pct[1]), 2),
        p99_ms=round(float(pct[2]), 2),
        max_ms=round(float(ms.max()), 2) if len(ms) else float("nan"),
        errors=dict(errors),
    )


async def _post(session: Any, url: str, body: bytes, errors: Counter) -> bool:
    """One request; failures are counted by kind instead of raised."""
    import aiohttp

    try:
        async with session.post(url, data=body, headers=JSON_HEADERS) as response:
            await response.read()
            if response.status != 200:
                errors[f"HTTP {response.status}"] += 1
                return False
            return True
    except (aiohttp.ClientError, TimeoutError) as err:
        errors[type(err).__name__] += 1
        return False


async def fixed_rate(
    session: Any, url: str, bodies: list[bytes], rate: float, duration_s: float
) -> LoadResult:
    """Open-loop load at ``rate`` requests/s for ``duration_s``; latency from each due time."""
    loop = asyncio.get_running_loop()
    latencies: list[float] = []
    errors: Counter = Counter()
    pending: set[asyncio.Task] = set()

    async def one(body: bytes, due: float) -> None:
        if await _post(session, url, body, errors):
            latencies.append(loop.time() - due)

    start = loop.time() + 0.01
    for i in range(int(rate * duration_s)):
        due = start + i / rate
        if due > loop.time():
            await asyncio.sleep(due - loop.time())
        task = asyncio.create_task(one(bodies[i % len(bodies)], due))
        pending.add(task)
        task.add_done_callback(pending.discard)
    if pending:
        await asyncio.wait(pending)
    result = summarise("fixed_rate", latencies, errors, loop.time() - start)
    result.offered_rps = rate
    return result


async def saturate(
    session: Any, url: str, bodies: list[bytes], concurrency: int, duration_s: float
) -> LoadResult:
    """Closed-loop load: ``concurrency`` clients back to back for ``duration_s``."""
    loop = asyncio.get_running_loop()
    latencies: list[float] = []
    errors: Counter = Counter()
    start = loop.time()
    end = start + duration_s

    async def client(offset: int) -> None:
        i = offset
        while loop.time() < end:
            sent = loop.time()
            if await _post(session, url, bodies[i % len(bodies)], errors):
                latencies.append(loop.time() - sent)
            i += concurrency

    await asyncio.gather(*(client(c) for c in range(concurrency)))
    result = summarise("saturation", latencies, errors, loop.time() - start)
    result.concurrency = concurrency
    return result


async def run_load(
    base_url: str,
    rate: float,
    duration_s: float,
    concurrency: int,
    saturate_s: float,
    warmup_s: float = 2.0,
    k: int = 10,
    seed: int = 0,
) -> tuple[dict[str, Any], list[LoadResult]]:
    """Read the model from /healthz, warm up, then the fixed-rate and saturation phases."""
    import aiohttp

    timeout = aiohttp.ClientTimeout(total=10)
    connector = aiohttp.TCPConnector(limit=max(concurrency, 256))
    async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:
        try:
            async with session.get(f"{base_url}/healthz") as response:
                health = await response.json()
        except aiohttp.ClientError as err:
            raise UserError(f"{base_url}/healthz: service not reachable ({err})") from None
        bodies = make_payloads(health["num_items"], health["max_history"], 1000, k, seed)
        url = f"{base_url}/recommend"
        if warmup_s > 0:  # first requests pay for lazy initialisation: measured, then dropped
            await saturate(session, url, bodies, min(concurrency, 8), warmup_s)
        results = [await fixed_rate(session, url, bodies, rate, duration_s)]
        results.append(await saturate(session, url, bodies, concurrency, saturate_s))
    return health, results


def teacher_seconds_per_example(artifact_dir: str | Path) -> float:
    """The teacher's inference cost from its artifact manifest (``seconds_per_example``)."""
    path = Path(artifact_dir) / "manifest.json"
    if not path.is_file():
        raise UserError(f"{path}: teacher manifest not found")
    found = _find_number(json.loads(path.read_text()), "seconds_per_example")
    if found is None:
        raise UserError(f"{path}: no 'seconds_per_example' field (teacher throughput)")
    return found


def _find_number(node: Any, key: str) -> float | None:
    """Depth-first search for a numeric ``key`` anywhere in a JSON document."""
    if isinstance(node, dict):
        if isinstance(node.get(key), int | float):
            return float(node[key])
        children = node.values()
    elif isinstance(node, list):
        children = node
    else:
        return None
    for child in children:
        found = _find_number(child, key)
        if found is not None:
            return found
    return None


def report(
    health: dict[str, Any], results: list[LoadResult], teacher_spe: float | None
) -> dict[str, Any]:
    """The printed/saved summary, with the teacher comparison when its cost is known."""
    fixed, peak = results
    summary: dict[str, Any] = {"model": health.get("model"), "phases": [asdict(r) for r in results]}
    student_spe = 1.0 / peak.achieved_rps if peak.achieved_rps else float("inf")
    summary["student_seconds_per_request"] = student_spe
    if teacher_spe is not None:
        summary["teacher_seconds_per_example"] = teacher_spe
        summary["throughput_speedup_vs_teacher"] = teacher_spe / student_spe
        summary["latency_p50_speedup_vs_teacher"] = teacher_spe / (fixed.p50_ms / 1000.0)
    return summary


def format_report(summary: dict[str, Any]) -> str:
    lines = [f"model: {summary['model']}"]
    for phase in summary["phases"]:
        load = (
            f"{phase['offered_rps']:g} req/s offered"
            if phase["mode"] == "fixed_rate"
            else f"{phase['concurrency']} concurrent clients"
        )
        lines.append(
            f"{phase['mode']:<11} {load:<24} {phase['achieved_rps']:>8.1f} req/s  "
            f"p50 {phase['p50_ms']:.1f} ms  p95 {phase['p95_ms']:.1f} ms  "
            f"p99 {phase['p99_ms']:.1f} ms  errors {sum(phase['errors'].values())} "
            f"{phase['errors'] or ''}"
        )
    lines.append(f"student: {summary['student_seconds_per_request'] * 1000:.2f} ms per request")
    if "teacher_seconds_per_example" in summary:
        lines.append(
            f"teacher: {summary['teacher_seconds_per_example']:.3f} s per example -> student "
            f"{summary['throughput_speedup_vs_teacher']:,.0f}x the teacher's throughput, p50 "
            f"latency {summary['latency_p50_speedup_vs_teacher']:,.0f}x lower"
        )
    return "\n".join(lines)

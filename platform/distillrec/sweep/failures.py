"""What failed trials mean for a sweep or a study: whether it may register, and what to say.

A failed trial is missing evidence. By default (``allow_failed_trials: false``) any failure
makes the sweep fail (exit 1) and registers nothing; with failures allowed, a sweep whose
distillation trials *all* failed still registers nothing, because a champion picked from the
baselines alone would not answer the question the sweep was run for. A study (whose runs are
Tune trials too) follows the same rule: a failed run leaves its paired cell without that seed,
so by default the study fails (exit 1), naming the runs; allowed, it is a warning and the report
shows the missing seeds.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from distillrec.contracts import DISTILL

RETRY_HINT = "fix the cause and continue with --resume, or set allow_failed_trials: true"
LISTED_RUNS = 5  # failed study runs named in the message (then "+N more")


@dataclass(frozen=True)
class FailureVerdict:
    """``error``: the sweep or study failed (exit 1); ``warning``: accepted, but said out loud;
    ``register``: a sweep may register its champion (a study registers nothing)."""

    register: bool
    error: str | None = None
    warning: str | None = None


def judge_failures(
    results: list[Any], *, dataset: str, has_teacher: bool, allow_failed: bool
) -> FailureVerdict:
    """``results``: the Tune ``Result`` of every trial (``.error``, ``.config["variant"]``)."""
    failed = [r for r in results if r.error is not None]
    if not failed:
        return FailureVerdict(register=True)
    distill = [r for r in results if r.config.get("variant", DISTILL) == DISTILL]
    distill_failed = [r for r in distill if r.error is not None]
    all_distill_failed = has_teacher and bool(distill) and len(distill_failed) == len(distill)
    what = f"{dataset}: {len(failed)} of {len(results)} trials failed"
    if all_distill_failed:
        what += f", all {len(distill)} distillation trials among them"
    what += f" (first: {first_line(failed[0].error)}); nothing registered"
    if not allow_failed:
        return FailureVerdict(register=False, error=f"{what}; {RETRY_HINT}")
    if all_distill_failed:
        return FailureVerdict(register=False, warning=what)
    return FailureVerdict(register=True, warning=f"{dataset}: {len(failed)} trials failed")


def judge_study_failures(
    results: Mapping[str, list[Any]], *, study: str, where: str, allow_failed: bool
) -> FailureVerdict:
    """``results``: per dataset, the Tune ``Result`` of every run (``.error``, ``.config`` with
    ``student``, ``variant``, ``seed``); ``where``: the Tune folder and parent run, so the one
    line says which runs failed and where to look."""
    failed = [(d, r) for d, runs in results.items() for r in runs if r.error is not None]
    if not failed:
        return FailureVerdict(register=False)
    total = sum(len(runs) for runs in results.values())
    names = [run_label(dataset, r.config) for dataset, r in failed[:LISTED_RUNS]]
    if len(failed) > LISTED_RUNS:
        names.append(f"+{len(failed) - LISTED_RUNS} more")
    what = (
        f"study {study}: {len(failed)} of {total} runs failed ({', '.join(names)}; first: "
        f"{first_line(failed[0][1].error)}); {where}"
    )
    if not allow_failed:
        return FailureVerdict(register=False, error=f"{what}; {RETRY_HINT}")
    return FailureVerdict(register=False, warning=f"{what}; the report pairs the seeds that ran")


def run_label(dataset: str, config: dict[str, Any] | None) -> str:
    """``ml-100k gru4rec/dllm2rec/seed 1``: a study run by its cell and seed."""
    config = config or {}
    cell = "/".join(str(config.get(k, "?")) for k in ("student", "variant"))
    return f"{dataset} {cell}/seed {config.get('seed', '?')}"


def first_line(error: BaseException) -> str:
    """The cause's own message: the last non-empty line of a (Ray-wrapped) error, shortened."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    text = lines[-1] if lines else type(error).__name__
    return text if len(text) <= 200 else text[:197] + "..."

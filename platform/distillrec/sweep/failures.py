"""What failed trials mean for a sweep: whether it may register a champion, and what to say.

A failed trial is missing evidence. By default (``allow_failed_trials: false``) any failure
makes the sweep fail (exit 1) and registers nothing; with failures allowed, a sweep whose
distillation trials *all* failed still registers nothing, because a champion picked from the
baselines alone would not answer the question the sweep was run for.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from distillrec.contracts import DISTILL


@dataclass(frozen=True)
class FailureVerdict:
    """``error``: the sweep failed (exit 1); ``warning``: accepted, but said out loud."""

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
        hint = "fix the cause and continue with --resume, or set allow_failed_trials: true"
        return FailureVerdict(register=False, error=f"{what}; {hint}")
    if all_distill_failed:
        return FailureVerdict(register=False, warning=what)
    return FailureVerdict(register=True, warning=f"{dataset}: {len(failed)} trials failed")


def first_line(error: BaseException) -> str:
    """The cause's own message: the last non-empty line of a (Ray-wrapped) error, shortened."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    text = lines[-1] if lines else type(error).__name__
    return text if len(text) <= 200 else text[:197] + "..."

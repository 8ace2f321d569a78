"""``@champion`` only moves up: the promotion rule, and the trail it leaves in the registry.

A sweep's best trial is a *candidate*. It is registered as a new version (so every candidate keeps
its metrics in the registry) but takes ``@champion`` only when it beats the current champion on
the same validation metric, the same dataset fingerprint and the same split protocol, or when the
user forces it (``distillrec sweep --force``). Either way the outcome is written down: on the
version (tags and description), on the sweep's parent run (tags) and, for promotions, in the
registered model's ``champion_history`` tag and description (who was champion when, and why).

The dataset fingerprint hashes the validation rows themselves, so equal fingerprints mean the same
validation examples; the split protocol is compared too so that a mismatch is named plainly.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from dataclasses import dataclass
from typing import Any

SELECTION_METRIC_TAG = "selection_metric"  # the validation metric the version was chosen on
FINGERPRINT_TAG = "dataset_fingerprint"
SPLIT_TAG = "dataset_split"  # the prepared dataset's split protocol (meta.json "split"), JSON
PROMOTION_TAG = "promotion"  # "promoted" / "not promoted" on every candidate version
PROMOTION_REASON_TAG = "promotion_reason"
PROMOTED_AT_TAG = "promoted_at"
HISTORY_TAG = "champion_history"  # registered-model tag: JSON list, oldest first
HISTORY_LIMIT = 50  # entries kept in the tag (the description keeps the last few too)
DESCRIPTION_ROWS = 15  # history rows shown in the registered model's description


@dataclass(frozen=True)
class Standing:
    """What a model version claims: its selection metric and value on which data and split."""

    version: str
    metric: str
    value: float | None
    fingerprint: str
    split: str


@dataclass(frozen=True)
class Decision:
    """Whether the candidate takes ``@champion``, and the sentence that says why."""

    promote: bool
    reason: str
    previous: str | None = None  # the version that was champion before (None: there was none)
    forced: bool = False

    @property
    def outcome(self) -> str:
        return "promoted" if self.promote else "not promoted"


def decide(candidate: Standing, current: Standing | None, *, force: bool = False) -> Decision:
    """The promotion rule: strictly better on a comparable footing, or forced."""
    if current is None:
        return Decision(True, "no champion yet")
    previous = current.version
    if current.version == candidate.version:
        return Decision(False, f"v{candidate.version} is already the champion", previous)
    differences = [
        f"{label} differs (champion v{current.version}: {mine!r}, candidate: {theirs!r})"
        for label, mine, theirs in (
            ("selection metric", current.metric, candidate.metric),
            ("dataset fingerprint", current.fingerprint, candidate.fingerprint),
            ("split", current.split, candidate.split),
        )
        if mine != theirs
    ]
    comparison = _comparison(candidate, current)
    if force:
        detail = "; ".join(differences) if differences else comparison
        return Decision(True, f"forced (--force): {detail}", previous, forced=True)
    if differences:
        return Decision(
            False, "not comparable: " + "; ".join(differences) + "; --force replaces it", previous
        )
    if candidate.value is None or current.value is None:
        return Decision(False, f"not comparable: {comparison}; --force replaces it", previous)
    if candidate.value > current.value:
        return Decision(True, f"better: {comparison}", previous)
    return Decision(False, f"not better: {comparison}", previous)


def _comparison(candidate: Standing, current: Standing) -> str:
    return (
        f"{candidate.metric} {_number(candidate.value)} (candidate v{candidate.version}) vs "
        f"{_number(current.value)} (champion v{current.version})"
    )


def _number(value: float | None) -> str:
    return "unknown" if value is None or math.isnan(value) else f"{value:.4f}"


def standing_of(version: Any, default_metric: str) -> Standing:
    """A registered version's standing, read from its tags (older versions lack some tags)."""
    tags = version.tags or {}
    metric = tags.get(SELECTION_METRIC_TAG, default_metric)
    raw = tags.get(metric)
    return Standing(
        version=str(version.version),
        metric=metric,
        value=float(raw) if raw not in (None, "") else None,
        fingerprint=tags.get(FINGERPRINT_TAG, ""),
        split=tags.get(SPLIT_TAG, ""),
    )


def now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def record(
    client: Any, name: str, candidate: Standing, decision: Decision, *, sweep: str, alias: str
) -> None:
    """Apply ``decision``: tag the version, move the alias and extend the history if promoted."""
    at = now()
    version = candidate.version
    client.set_model_version_tag(name, version, PROMOTION_TAG, decision.outcome)
    client.set_model_version_tag(name, version, PROMOTION_REASON_TAG, decision.reason)
    if not decision.promote:
        return
    client.set_registered_model_alias(name, alias, version)
    client.set_model_version_tag(name, version, PROMOTED_AT_TAG, at)
    entry = {
        "version": version,
        "at": at,
        "metric": candidate.metric,
        "value": candidate.value,
        "previous": decision.previous,
        "forced": decision.forced,
        "sweep": sweep,
        "reason": decision.reason,
    }
    history = [*champion_history(client, name), entry][-HISTORY_LIMIT:]
    client.set_registered_model_tag(name, HISTORY_TAG, json.dumps(history))
    client.update_registered_model(name, description=history_markdown(name, alias, history))


def champion_history(client: Any, name: str) -> list[dict[str, Any]]:
    """The promotions recorded on the registered model, oldest first ([] when none)."""
    tags = client.get_registered_model(name).tags or {}
    try:
        history = json.loads(tags.get(HISTORY_TAG, "[]"))
    except json.JSONDecodeError:
        return []
    return history if isinstance(history, list) else []


def history_markdown(name: str, alias: str, history: list[dict[str, Any]]) -> str:
    """The registered model's description: what ``@alias`` means and who held it when."""
    lines = [
        f"`{name}@{alias}` is the best student on this dataset's validation split. A sweep moves "
        "it only when its best trial beats the current champion on the same validation metric, "
        "dataset fingerprint and split (or with `distillrec sweep --force`); every candidate is "
        "registered with its metrics and a `promotion` tag either way.",
        "",
        f"| promoted at (UTC) | version | {history[-1]['metric'] if history else 'metric'} "
        "| previous | sweep | why |",
        "|---|---|---|---|---|---|",
    ]
    for entry in reversed(history[-DESCRIPTION_ROWS:]):
        previous = f"v{entry['previous']}" if entry.get("previous") else "-"
        lines.append(
            f"| {entry['at']} | v{entry['version']} | {_number(entry.get('value'))} | "
            f"{previous} | {entry.get('sweep', '')} | {entry.get('reason', '')} |"
        )
    text = "\n".join(lines) + "\n"
    return text[:4900]

"""A short human-readable summary of a prepared dataset (``distillrec data stats``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from distillrec.data.prepared import load_prepared


def summarize(path: str | Path) -> dict:
    """Sizes, history lengths, item popularity and time range per split."""
    data = load_prepared(path)
    meta = data.meta
    summary: dict = {
        "name": meta.name,
        "users": meta.num_users,
        "items": meta.num_items,
        "interactions": meta.num_interactions,
        "protocol": meta.split.get("rule", meta.split.get("protocol")),
        "fingerprint": meta.fingerprint[:16],
    }
    for name in ("train", "val", "test"):
        frame = data.split(name)
        lens = frame["history_len"].to_numpy()
        summary[name] = {
            "examples": len(frame),
            "users": int(frame["user_id"].nunique()),
            "mean_history_len": round(float(lens.mean()), 2) if len(lens) else 0.0,
            "time": [int(frame["timestamp"].min()), int(frame["timestamp"].max())]
            if len(frame)
            else None,
        }
    counts = np.bincount(data.train["next_item"].to_numpy(), minlength=meta.num_items)
    summary["train_items_never_a_target"] = int((counts == 0).sum())
    summary["density"] = (
        round(meta.num_interactions / (meta.num_users * meta.num_items), 5)
        if (meta.num_interactions)
        else None
    )
    return summary


def format_summary(summary: dict) -> str:
    """The summary as aligned text lines."""
    lines = []
    for key, value in summary.items():
        if isinstance(value, dict):
            parts = ", ".join(f"{k}={v}" for k, v in value.items())
            lines.append(f"{key:<28} {parts}")
        else:
            lines.append(f"{key:<28} {value:,}" if isinstance(value, int) else f"{key:<28} {value}")
    return "\n".join(lines)

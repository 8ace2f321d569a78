"""A study report's page: the Markdown table, its notes and the PNG with CI error bars.

Kept apart from :mod:`distillrec.study.report` (which gathers the runs and computes the table)
so that how a number is shown never changes how it is computed. Every CI label carries the
study's own level (``statistics.confidence``), never a fixed "95%".
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from distillrec.atomic import atomic_file
from distillrec.distill.variants import BASELINE
from distillrec.study.config import StatisticsConfig
from distillrec.study.statistics import CONFIDENCE, ci_label
from distillrec.teacher.quality import quality_markdown


def to_markdown(
    table: pd.DataFrame,
    title: str,
    teacher: dict[str, Any],
    notes: list[str],
    confidence: float = CONFIDENCE,
) -> str:
    """The page: teacher block, the main table (test NDCG@20/HR@20 with paired CIs at the
    study's ``confidence``), notes. A row missing seeds shows ``2 of 3 (missing 1)``."""
    lines = [f"# {title}", ""]
    lines += quality_markdown(teacher)
    level = ci_label(confidence)
    head = [
        "student",
        "variant",
        "seeds",
        "val NDCG@20",
        "test NDCG@20",
        "test HR@20",
        "paired seeds",
        f"gain test NDCG@20 [{level}]",
        "verdict (NDCG@20)",
        f"gain test HR@20 [{level}]",
        "verdict (HR@20)",
        "p t-test (NDCG@20)",
    ]
    lines += ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    for _, row in table.iterrows():
        cells = [
            str(row["student"]),
            str(row["variant"]),
            _seeds(row, "seeds", "missing seeds"),
            _mean_std(row, "val ndcg@20"),
            _mean_std(row, "test ndcg@20"),
            _mean_std(row, "test hr@20"),
            "-" if row["variant"] == BASELINE else _seeds(row, "paired seeds", "unpaired seeds"),
            _gain(row, "test NDCG@20"),
            str(row.get("verdict test NDCG@20", "-") if row["variant"] != BASELINE else "-"),
            _gain(row, "test HR@20"),
            str(row.get("verdict test HR@20", "-") if row["variant"] != BASELINE else "-"),
            _num(row.get("p test NDCG@20 (t-test over seeds)", math.nan), "{:.3f}"),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    for note in notes:
        lines += ["", note]
    return "\n".join(lines) + "\n"


def plot(table: pd.DataFrame, path: Path, title: str, confidence: float = CONFIDENCE) -> None:
    """Left: test NDCG@20 mean ± std over seeds; right: paired gain (%) with its CI."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    students = list(dict.fromkeys(table["student"]))
    variants = list(dict.fromkeys(table["variant"]))
    compared = [v for v in variants if v != BASELINE]
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
    cycle = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    colour = {v: cycle[i % len(cycle)] for i, v in enumerate(variants)}  # same in both panels
    for j, variant in enumerate(variants):
        part = table[table["variant"] == variant].set_index("student").reindex(students)
        xs = _offsets(len(students), j, len(variants))
        axes[0].bar(
            xs,
            part["test ndcg@20 mean"].fillna(0).to_numpy(),
            0.8 / max(len(variants), 1),
            yerr=part["test ndcg@20 std"].fillna(0).to_numpy(),
            capsize=2,
            label=variant,
            color=colour[variant],
        )
        if variant in compared and "gain test NDCG@20 (%)" in part:
            gain = part["gain test NDCG@20 (%)"].to_numpy(dtype=float)
            low = gain - part["gain test NDCG@20 CI low (%)"].to_numpy(dtype=float)
            high = part["gain test NDCG@20 CI high (%)"].to_numpy(dtype=float) - gain
            axes[1].errorbar(
                _offsets(len(students), compared.index(variant), len(compared)),
                gain,
                yerr=np.nan_to_num(np.vstack([low, high])),
                fmt="o",
                capsize=3,
                label=variant,
                color=colour[variant],
            )
    for ax in axes:
        ax.set_xticks(range(len(students)), students)
    axes[0].set_title("test NDCG@20 (mean ± std over seeds)")
    axes[1].axhline(0.0, color="grey", linewidth=1)
    axes[1].set_title(f"gain vs paired baseline, test NDCG@20 (%), {ci_label(confidence)}")
    axes[0].legend(fontsize=7)
    if axes[1].get_legend_handles_labels()[0]:  # no gain at all when every variant failed
        axes[1].legend(fontsize=7)
    fig.suptitle(title)
    fig.tight_layout()
    with atomic_file(path, "wb") as handle:
        fig.savefig(handle, format="png", dpi=120)
    plt.close(fig)


def report_notes(
    table: pd.DataFrame, violations: list[str], statistics: StatisticsConfig, recorded: bool
) -> list[str]:
    """The paragraphs under the table: pairing, how the CI was made, missing seeds, students."""
    level = ci_label(statistics.confidence)
    settings = f"{statistics.n_resamples} resamples, RNG seed {statistics.seed}" + (
        "" if recorded else "; not recorded on this study's parent run: defaults used"
    )
    notes = [
        "Pairing: within a student and seed every variant shares data, seed, epoch budget, "
        "student preset and every non-distillation setting; only distill.* and teacher differ."
        + (f" VIOLATED: {violations}" if violations else " Checked on the runs' parameters: OK."),
        f"Gains are relative to the same student's baseline (no teacher); {level}: paired "
        "cluster bootstrap over test examples, each example resampled with all its paired "
        f"seeds (SciPy, percentile, {settings}); p: paired t-test over per-seed means. A CI "
        "that covers 0 is stated as 'not significant'. The bootstrap resamples test examples "
        "(the seeds' runs held fixed); the t-test sees the spread between seeds: read both.",
    ]
    missing = [
        f"{r['student']}/{r['variant']} (seeds {r['missing seeds']})"
        for _, r in table.iterrows()
        if isinstance(r.get("missing seeds"), str) and r["missing seeds"]
    ]
    if missing:
        notes.append(
            "MISSING RUNS (failed or unfinished): "
            + "; ".join(missing)
            + ". Their means are over the seeds that finished; a gain pairs only the seeds "
            "both it and its baseline finished (column 'paired seeds')."
        )
    notes.append("Students: gru4rec/caser/sasrec run without the DROS term; dros = SASRec with it.")
    return notes


def _offsets(groups: int, index: int, count: int) -> np.ndarray:
    """x positions of series ``index`` of ``count`` side by side within each of ``groups``."""
    width = 0.8 / max(count, 1)
    return np.arange(groups) + (index - (count - 1) / 2) * width


def _seeds(row: Any, count: str, missing: str) -> str:
    """``3``, or ``2 of 3 (missing 1)`` when the study's seeds are not all there."""
    value = row.get(count, math.nan)
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    absent = row.get(missing, "")
    if not isinstance(absent, str) or not absent:
        return str(int(value))
    return f"{int(value)} of {int(row['study seeds'])} (missing {absent})"


def _mean_std(row: Any, prefix: str) -> str:
    mean, std = row.get(f"{prefix} mean", math.nan), row.get(f"{prefix} std", math.nan)
    if mean is None or (isinstance(mean, float) and math.isnan(mean)):
        return "-"
    return f"{mean:.4f} ± {std:.4f}" if not math.isnan(std) else f"{mean:.4f}"


def _gain(row: Any, label: str) -> str:
    if row["variant"] == BASELINE:
        return "-"
    gain = row.get(f"gain {label} (%)", math.nan)
    low, high = (
        row.get(f"gain {label} CI low (%)", math.nan),
        row.get(f"gain {label} CI high (%)", math.nan),
    )
    if gain is None or math.isnan(gain):
        return "-"
    return f"{gain:+.1f}% [{low:+.1f}, {high:+.1f}]"


def _num(value: Any, fmt: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return fmt.format(value)

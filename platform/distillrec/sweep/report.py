"""What distillation bought on a dataset: students x {no distillation, best DLLM2Rec}.

Built from the MLflow runs of the dataset's latest sweep (the best DLLM2Rec trial per student is
chosen on validation NDCG@20, like the champion); written as CSV, Markdown and a PNG chart, and
logged to the sweep's parent run under ``report/``.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pandas as pd

from distillrec.atomic import atomic_file
from distillrec.contracts import BASELINE, DISTILL, SELECTION_KEY, metric_key
from distillrec.errors import UserError
from distillrec.sweep import tracking
from distillrec.teacher.quality import quality_markdown, teacher_summary

SETTINGS = {BASELINE: "no distillation", DISTILL: "best DLLM2Rec"}
METRICS = {  # report column -> MLflow metric of a finished trial run
    "val HR@20": metric_key("hr@20", "best_val"),
    "val NDCG@20": metric_key("ndcg@20", "best_val"),
    "test HR@20": metric_key("hr@20", "test"),
    "test NDCG@20": metric_key("ndcg@20", "test"),
}
GAINS = ("test HR@20", "test NDCG@20")  # relative improvement of DLLM2Rec over no distillation


def report_table(uri: str, parent_run_id: str) -> pd.DataFrame:
    """One row per student and setting; ``gain ...`` columns are relative changes in percent."""
    runs = [
        r
        for r in tracking.child_runs(uri, parent_run_id, finished_only=True)
        if SELECTION_KEY in r.data.metrics
    ]
    rows = []
    for student in _students(uri, parent_run_id, runs):
        best: dict[str, Any] = {}
        for variant in SETTINGS:
            mine = [
                r
                for r in runs
                if r.data.tags.get(tracking.STUDENT_TAG) == student
                and r.data.tags.get(tracking.VARIANT_TAG) == variant
            ]
            best[variant] = max(mine, key=lambda r: r.data.metrics[SELECTION_KEY], default=None)
        for variant, run in best.items():
            row: dict[str, Any] = {"student": student, "setting": SETTINGS[variant]}
            for column, key in METRICS.items():
                row[column] = run.data.metrics.get(key, math.nan) if run else math.nan
            for column in GAINS:
                base = best[BASELINE].data.metrics.get(METRICS[column]) if best[BASELINE] else None
                ok = variant == DISTILL and run is not None and base
                gain = 100 * (row[column] - base) / base if ok else math.nan
                row[f"gain {column} (%)"] = gain
            row["run_id"] = run.info.run_id if run else ""
            rows.append(row)
    return pd.DataFrame(rows)


def baseline_note(params: dict[str, str]) -> str:
    """How the baselines were tuned (the page says which), from the parent run's params."""
    mode = params.get("baseline_tuning", "base_config")
    if mode == "rerun_best":
        tuned = {
            key.removeprefix("tuned_baseline."): value
            for key, value in sorted(params.items())
            if key.startswith("tuned_baseline.")
        }
        settings = "; ".join(f"{s}: {v}" for s, v in tuned.items()) or "none"
        return (
            "Baseline tuning: each student's baseline re-ran its best DLLM2Rec trial's "
            f"non-distillation settings with distillation off ({settings}), so both sides had "
            "the same tuning. The gain is still one best-of-N selection on one seed: for a "
            "paired, multi-seed answer with confidence intervals run `distillrec study`."
        )
    return (
        "Baseline tuning: NONE. The baseline ran the base config's values of the search keys "
        "while DLLM2Rec was the best of several tuned trials, so the gain mixes distillation "
        "with tuning and best-of-N selection."
    )


def to_markdown(
    table: pd.DataFrame, title: str, note: str = "", teacher_lines: list[str] | None = None
) -> str:
    """A GitHub table; missing values (a student without a finished trial) show as '-'.
    ``teacher_lines``: the teacher block (quality, floors, coverage) shown above the table."""
    columns = [c for c in table.columns if c != "run_id"]
    lines = [f"# {title}", "", *(teacher_lines or [])]
    lines += ["| " + " | ".join(columns) + " |"]
    lines.append("|" + "|".join("---" for _ in columns) + "|")
    for _, row in table.iterrows():
        cells = [_cell(row[c], percent=c.startswith("gain")) for c in columns]
        lines.append("| " + " | ".join(cells) + " |")
    lines += [
        "",
        "Best DLLM2Rec = the distillation trial with the highest val NDCG@20; gains are "
        "relative to the same student without distillation, same epoch budget.",
    ]
    if note:
        lines += ["", note]
    return "\n".join(lines) + "\n"


def plot(table: pd.DataFrame, path: Path, title: str) -> None:
    """Grouped bars: test HR@20 and NDCG@20 per student, without and with distillation."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    students = list(dict.fromkeys(table["student"]))
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    width = 0.38
    for ax, column in zip(axes, ("test HR@20", "test NDCG@20"), strict=True):
        for offset, setting in ((-width / 2, SETTINGS[BASELINE]), (width / 2, SETTINGS[DISTILL])):
            part = table[table["setting"] == setting].set_index("student").reindex(students)
            xs = [i + offset for i in range(len(students))]
            ax.bar(xs, part[column].fillna(0).to_numpy(), width, label=setting)
        ax.set_xticks(range(len(students)), students)
        ax.set_title(column)
    axes[0].legend()
    fig.suptitle(title)
    fig.tight_layout()
    with atomic_file(path, "wb") as handle:
        fig.savefig(handle, format="png", dpi=120)
    plt.close(fig)


def write_report(uri: str, parent_run_id: str, dataset: str, out_dir: Path) -> dict[str, Path]:
    """Write ``report.{csv,md,png}`` to ``out_dir`` and log them to the parent run."""
    table = report_table(uri, parent_run_id)
    if table.empty:
        raise UserError(f"dataset {dataset}: the sweep has no finished trials to report")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    title = f"Distillation report: {dataset}"
    files = {ext: out_dir / f"report.{ext}" for ext in ("csv", "md", "png")}
    with atomic_file(files["csv"]) as handle:
        table.to_csv(handle, index=False)
    mlf = tracking.client(uri)
    parent = mlf.get_run(parent_run_id)
    note = baseline_note(parent.data.params)
    teacher_lines = quality_markdown(sweep_teacher_summary(uri, parent))
    with atomic_file(files["md"]) as handle:
        handle.write(to_markdown(table, title, note, teacher_lines))
    plot(table, files["png"], title)
    for path in files.values():
        mlf.log_artifact(parent_run_id, str(path), artifact_path="report")
    return files


def sweep_teacher_summary(uri: str, parent: Any) -> dict[str, Any]:
    """The sweep's teacher (quality, floors, coverage) on the dataset its trials trained on."""
    teacher = parent.data.tags.get(tracking.TEACHER_TAG)
    if not teacher:
        return {}
    runs = tracking.child_runs(uri, parent.info.run_id, finished_only=True)
    datasets = [r.data.params["dataset"] for r in runs if "dataset" in r.data.params]
    return teacher_summary(datasets[0], teacher) if datasets else {}


def report_for_dataset(uri: str, experiment: str, dataset: str, out_dir: Path) -> dict[str, Path]:
    """The report of ``dataset``'s latest sweep in ``experiment``."""
    parent = tracking.latest_parent_run(uri, experiment, dataset)
    if parent is None:
        raise UserError(
            f"dataset {dataset}: no sweep found in MLflow experiment {experiment!r} at {uri}"
        )
    return write_report(uri, parent.info.run_id, dataset, out_dir)


def _students(uri: str, parent_run_id: str, runs: list[Any]) -> list[str]:
    """The sweep's students in config order (from the parent's params), else as found."""
    listed = tracking.client(uri).get_run(parent_run_id).data.params.get("students")
    found = list(dict.fromkeys(r.data.tags.get(tracking.STUDENT_TAG, "") for r in runs))
    return json.loads(listed) if listed else sorted(found)


def _cell(value: Any, *, percent: bool) -> str:
    if isinstance(value, float):
        if math.isnan(value):
            return "-"
        return f"{value:+.1f}%" if percent else f"{value:.4f}"
    return str(value)

"""A study's report: per student and variant, means over seeds and the paired gain with its CI.

Built from the finished child runs of the study's parent run (one dataset at a time): val/test
HR@10/20 and NDCG@10/20 as mean and std over seeds; for every variant but ``baseline``, the
paired comparison with the same student's baseline on test NDCG@20 and HR@20 (per-example ranks
of the same test rows, pooled over the seeds both ran; see :mod:`distillrec.study.statistics`).
The teacher's own quality, its floors and coverage sit beside the table. Written as CSV,
Markdown and a PNG with CI error bars, and logged to the parent run under ``report/<dataset>``.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from distillrec.atomic import atomic_file
from distillrec.contracts import TEST_SELECTION_KEY, metric_key
from distillrec.distill.variants import BASELINE, is_distillation_key
from distillrec.errors import UserError
from distillrec.study.statistics import CONFIDENCE, N_RESAMPLES, compare
from distillrec.sweep import tracking
from distillrec.teacher.quality import quality_markdown, teacher_summary
from distillrec.training.metrics import per_example_metric

SPLIT_METRICS = ("hr@10", "hr@20", "ndcg@10", "ndcg@20")
COMPARED = ("ndcg@20", "hr@20")  # test metrics with a paired CI
SPLIT_KEYS = {"val": "best_val", "test": "test"}  # report split -> MLflow metric prefix


def study_runs(uri: str, parent_run_id: str, dataset: str) -> list[Any]:
    """Finished child runs of the study for ``dataset`` (each with its final test metrics)."""
    return [
        r
        for r in tracking.child_runs(uri, parent_run_id, finished_only=True)
        if r.data.tags.get(tracking.DATASET_TAG) == dataset and TEST_SELECTION_KEY in r.data.metrics
    ]


def pairing_violations(runs: list[Any]) -> list[str]:
    """Cells (student, seed) whose runs differ in any non-distillation parameter."""
    cells: dict[tuple[str, str], dict[str, str]] = {}
    problems = []
    for run in runs:
        tags = run.data.tags
        key = (tags.get(tracking.STUDENT_TAG, ""), tags.get(tracking.SEED_TAG, ""))
        params = {
            k: v for k, v in run.data.params.items() if not is_distillation_key(k) and k != "seed"
        }
        reference = cells.setdefault(key, params)
        if params != reference:
            differing = sorted(
                k for k in set(params) | set(reference) if params.get(k) != reference.get(k)
            )
            problems.append(f"{key[0]} seed {key[1]}: {differing}")
    return problems


def study_table(
    uri: str,
    runs: list[Any],
    *,
    confidence: float = CONFIDENCE,
    n_resamples: int = N_RESAMPLES,
    seed: int = 0,
    students: list[str] | None = None,
    variants: list[str] | None = None,
) -> pd.DataFrame:
    """One row per (student, variant): seeds, mean/std per split and metric, paired gains."""
    by_cell: dict[tuple[str, str], dict[int, Any]] = {}
    for run in runs:
        tags = run.data.tags
        cell = (tags[tracking.STUDENT_TAG], tags[tracking.VARIANT_TAG])
        by_cell.setdefault(cell, {})[int(tags[tracking.SEED_TAG])] = run
    students = students or sorted({s for s, _ in by_cell})
    variants = variants or sorted({v for _, v in by_cell}, key=lambda v: (v != BASELINE, v))
    ranks_cache: dict[str, pd.DataFrame] = {}

    def ranks_of(run: Any) -> pd.DataFrame:
        if run.info.run_id not in ranks_cache:
            ranks_cache[run.info.run_id] = tracking_ranks(uri, run.info.run_id)
        return ranks_cache[run.info.run_id]

    rows = []
    for student in students:
        baseline = by_cell.get((student, BASELINE), {})
        for variant in variants:
            seeds = by_cell.get((student, variant), {})
            if not seeds:
                continue
            row: dict[str, Any] = {
                "student": student,
                "variant": variant,
                "seeds": len(seeds),
                "teacher coverage (%)": 100.0
                * float(
                    np.mean(
                        [float(r.data.tags.get("teacher_coverage", 0) or 0) for r in seeds.values()]
                    )
                ),
            }
            for split, prefix in SPLIT_KEYS.items():
                for metric in SPLIT_METRICS:
                    key = metric_key(metric, prefix)
                    values = np.array([r.data.metrics.get(key, math.nan) for r in seeds.values()])
                    row[f"{split} {metric} mean"] = float(np.mean(values))
                    row[f"{split} {metric} std"] = (
                        float(np.std(values, ddof=1)) if len(values) > 1 else math.nan
                    )
            if variant != BASELINE:
                shared = sorted(set(seeds) & set(baseline))
                for metric in COMPARED:
                    row.update(
                        _comparison_columns(
                            metric,
                            [ranks_of(baseline[s]) for s in shared],
                            [ranks_of(seeds[s]) for s in shared],
                            confidence=confidence,
                            n_resamples=n_resamples,
                            seed=seed,
                        )
                    )
            rows.append(row)
    return pd.DataFrame(rows)


def tracking_ranks(uri: str, run_id: str) -> pd.DataFrame:
    from distillrec.training.tracking import load_per_example_ranks

    return load_per_example_ranks(uri, run_id, "test")


def _comparison_columns(
    metric: str, baseline: list[pd.DataFrame], variant: list[pd.DataFrame], **kwargs: Any
) -> dict[str, Any]:
    label = f"test {metric.replace('hr', 'HR').replace('ndcg', 'NDCG')}"
    if not baseline:
        return {f"gain {label} (%)": math.nan, f"verdict {label}": "no paired baseline"}
    base_values, var_values = [], []
    for b, v in zip(baseline, variant, strict=True):
        merged = b.merge(v, on="example_id", suffixes=("_b", "_v"), validate="one_to_one")
        if len(merged) != len(b):
            raise UserError("paired runs were scored on different test examples")
        base_values.append(per_example_metric(merged["rank_b"].to_numpy(), metric))
        var_values.append(per_example_metric(merged["rank_v"].to_numpy(), metric))
    result = compare(metric, base_values, var_values, **kwargs)
    return {
        f"diff {label}": result.difference,
        f"diff {label} CI low": result.ci_low,
        f"diff {label} CI high": result.ci_high,
        f"gain {label} (%)": result.gain_pct,
        f"gain {label} CI low (%)": result.gain_ci_low_pct,
        f"gain {label} CI high (%)": result.gain_ci_high_pct,
        f"p {label} (t-test over seeds)": result.t_pvalue,
        f"p {label} (Wilcoxon over seeds)": result.wilcoxon_pvalue,
        f"verdict {label}": result.verdict,
    }


def to_markdown(table: pd.DataFrame, title: str, teacher: dict[str, Any], notes: list[str]) -> str:
    """The page: teacher block, the main table (test NDCG@20/HR@20 with paired CIs), notes."""
    lines = [f"# {title}", ""]
    lines += quality_markdown(teacher)
    head = [
        "student",
        "variant",
        "seeds",
        "val NDCG@20",
        "test NDCG@20",
        "test HR@20",
        "gain test NDCG@20 [95% CI]",
        "verdict (NDCG@20)",
        "gain test HR@20 [95% CI]",
        "verdict (HR@20)",
        "p t-test (NDCG@20)",
    ]
    lines += ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    for _, row in table.iterrows():
        cells = [
            str(row["student"]),
            str(row["variant"]),
            str(int(row["seeds"])),
            _mean_std(row, "val ndcg@20"),
            _mean_std(row, "test ndcg@20"),
            _mean_std(row, "test hr@20"),
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


def plot(table: pd.DataFrame, path: Path, title: str) -> None:
    """Left: test NDCG@20 mean ± std over seeds; right: paired gain (%) with its 95% CI."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    students = list(dict.fromkeys(table["student"]))
    variants = list(dict.fromkeys(table["variant"]))
    compared = [v for v in variants if v != BASELINE]
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
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
            )
    for ax in axes:
        ax.set_xticks(range(len(students)), students)
    axes[0].set_title("test NDCG@20 (mean ± std over seeds)")
    axes[1].axhline(0.0, color="grey", linewidth=1)
    axes[1].set_title("gain vs paired baseline, test NDCG@20 (%), 95% CI")
    axes[0].legend(fontsize=7)
    if compared:
        axes[1].legend(fontsize=7)
    fig.suptitle(title)
    fig.tight_layout()
    with atomic_file(path, "wb") as handle:
        fig.savefig(handle, format="png", dpi=120)
    plt.close(fig)


def write_study_report(
    uri: str,
    parent_run_id: str,
    dataset: str,
    out_dir: Path,
    *,
    cfg: Any = None,
    teacher: str | None = None,
) -> dict[str, Path]:
    """Write ``report.{csv,md,png}`` and ``teacher.json`` for one dataset; log them to the
    parent run under ``report/<dataset>``."""

    mlf = tracking.client(uri)
    parent = mlf.get_run(parent_run_id)
    params = parent.data.params
    runs = study_runs(uri, parent_run_id, dataset)
    if not runs:
        raise UserError(f"dataset {dataset}: the study has no finished runs to report")
    stats_cfg = cfg.statistics if cfg is not None else None
    table = study_table(
        uri,
        runs,
        confidence=stats_cfg.confidence if stats_cfg else CONFIDENCE,
        n_resamples=stats_cfg.n_resamples if stats_cfg else N_RESAMPLES,
        seed=stats_cfg.seed if stats_cfg else 0,
        students=_listed(params, "students"),
        variants=_listed(params, "variants"),
    )
    teacher = teacher if teacher is not None else params.get(f"{dataset}.teacher_artifact") or None
    dataset_path = _dataset_path(runs)
    summary = teacher_summary(dataset_path, teacher) if teacher else {}
    violations = pairing_violations(runs)
    notes = [
        "Pairing: within a student and seed every variant shares data, seed, epoch budget, "
        "student preset and every non-distillation setting; only distill.* and teacher differ."
        + (f" VIOLATED: {violations}" if violations else " Checked on the runs' parameters: OK."),
        "Gains are relative to the same student's baseline (no teacher); 95% CI: paired "
        "bootstrap over test examples pooled over seeds (SciPy, percentile); p: paired t-test "
        "over per-seed means. A CI that covers 0 is stated as 'not significant'. The bootstrap "
        "resamples test examples (the seeds' runs held fixed); the t-test sees the spread "
        "between seeds: read both.",
        "Students: gru4rec/caser/sasrec run without the DROS term; dros = SASRec with it.",
    ]
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    title = f"Study report: {params.get('study_dir', '').rsplit('/', 1)[-1] or 'study'} / {dataset}"
    files = {ext: out_dir / f"report.{ext}" for ext in ("csv", "md", "png")}
    files["teacher"] = out_dir / "teacher.json"
    with atomic_file(files["csv"]) as handle:
        table.to_csv(handle, index=False)
    with atomic_file(files["md"]) as handle:
        handle.write(to_markdown(table, title, summary, notes))
    with atomic_file(files["teacher"]) as handle:
        handle.write(json.dumps(summary, indent=2, default=str) + "\n")
    plot(table, files["png"], title)
    for path in files.values():
        mlf.log_artifact(parent_run_id, str(path), artifact_path=f"report/{dataset}")
    return files


def latest_study_parent(uri: str, experiment: str, dataset: str, study: str | None) -> Any | None:
    """The most recent study parent run covering ``dataset`` (optionally of one study name)."""
    import mlflow

    mlflow.set_tracking_uri(uri)
    exp = mlflow.get_experiment_by_name(experiment)
    if exp is None:
        return None
    query = f"tags.`{tracking.KIND_TAG}` = 'study'"
    if study:
        query += f" and tags.`{tracking.STUDY_TAG}` = '{study}'"
    runs = tracking.client(uri).search_runs(
        [exp.experiment_id], query, order_by=["attributes.start_time DESC"], max_results=200
    )
    for run in runs:
        if dataset in run.data.tags.get(tracking.DATASET_TAG, "").split(","):
            return run
    return None


def report_for_study(
    uri: str, experiment: str, dataset: str, out_dir: Path, study: str | None = None
) -> dict[str, Path]:
    parent = latest_study_parent(uri, experiment, dataset, study)
    if parent is None:
        which = f"study {study!r}" if study else "a study"
        raise UserError(
            f"dataset {dataset}: no {which} found in MLflow experiment {experiment!r} at {uri}"
        )
    return write_study_report(uri, parent.info.run_id, dataset, out_dir)


def _offsets(groups: int, index: int, count: int) -> np.ndarray:
    """x positions of series ``index`` of ``count`` side by side within each of ``groups``."""
    width = 0.8 / max(count, 1)
    return np.arange(groups) + (index - (count - 1) / 2) * width


def _dataset_path(runs: list[Any]) -> str:
    return runs[0].data.params["dataset"]


def _listed(params: dict[str, str], key: str) -> list[str] | None:
    return json.loads(params[key]) if key in params else None


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

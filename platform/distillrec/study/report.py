"""A study's report: per student and variant, means over seeds and the paired gain with its CI.

Built from the finished child runs of the study's parent run (one dataset at a time): val/test
HR@10/20 and NDCG@10/20 as mean and std over seeds; for every variant but ``baseline``, the
paired comparison with the same student's baseline on test NDCG@20 and HR@20 (per-example ranks
of the same test rows over the seeds both ran, each example resampled with all its seeds; see
:mod:`distillrec.study.statistics`), at the statistics settings the study logged on its parent
run. A row missing seeds says so ("2 of 3 (missing 1)"), never averaged silently. The
teacher's own quality, its floors and its training coverage sit beside the table; each row's
``RD coverage (%)`` is the share of its training rows that got a ranking-distillation term (the
runs' ``rd_coverage``: 0 for the baseline and ``ed_only``). Written as CSV, Markdown
and a PNG with CI error bars (:mod:`distillrec.study.page`), and logged to the parent run under
``report/<dataset>``.
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
from distillrec.ranking_metrics import per_example_metric
from distillrec.study.config import StatisticsConfig
from distillrec.study.page import plot, report_notes, to_markdown
from distillrec.study.statistics import compare
from distillrec.sweep import tracking
from distillrec.teacher.quality import teacher_summary
from distillrec.training.teacher_info import RD_COVERAGE_TAG

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
    statistics: StatisticsConfig | None = None,
    students: list[str] | None = None,
    variants: list[str] | None = None,
    seeds: list[int] | None = None,
) -> pd.DataFrame:
    """One row per (student, variant): seeds, mean/std per split and metric, paired gains.

    ``seeds``: the study's seeds; a row whose finished runs (or, for a gain, whose pairs with
    the baseline) miss one says so in ``missing seeds`` / ``paired seeds`` instead of silently
    averaging fewer seeds."""
    statistics = statistics or StatisticsConfig()
    by_cell: dict[tuple[str, str], dict[int, Any]] = {}
    for run in runs:
        tags = run.data.tags
        cell = (tags[tracking.STUDENT_TAG], tags[tracking.VARIANT_TAG])
        by_cell.setdefault(cell, {})[int(tags[tracking.SEED_TAG])] = run
    students = students or sorted({s for s, _ in by_cell})
    variants = variants or sorted({v for _, v in by_cell}, key=lambda v: (v != BASELINE, v))
    expected = sorted(seeds or {seed for cell in by_cell.values() for seed in cell})
    ranks_cache: dict[str, pd.DataFrame] = {}

    def ranks_of(run: Any) -> pd.DataFrame:
        if run.info.run_id not in ranks_cache:
            ranks_cache[run.info.run_id] = tracking_ranks(uri, run.info.run_id)
        return ranks_cache[run.info.run_id]

    rows = []
    for student in students:
        baseline = by_cell.get((student, BASELINE), {})
        for variant in variants:
            cell = by_cell.get((student, variant), {})
            row: dict[str, Any] = {
                "student": student,
                "variant": variant,
                "seeds": len(cell),
                "missing seeds": _seed_list(s for s in expected if s not in cell),
                "study seeds": len(expected),
                "CI level (%)": 100 * statistics.confidence,
            }
            if not cell:  # every run of it failed: a row that says so, not a missing row
                rows.append(row | _no_comparison(variant, expected, "no finished runs"))
                continue
            row["RD coverage (%)"] = 100.0 * float(
                np.mean([float(r.data.tags.get(RD_COVERAGE_TAG) or 0) for r in cell.values()])
            )
            for split, prefix in SPLIT_KEYS.items():
                for metric in SPLIT_METRICS:
                    key = metric_key(metric, prefix)
                    values = np.array([r.data.metrics.get(key, math.nan) for r in cell.values()])
                    row[f"{split} {metric} mean"] = float(np.mean(values))
                    row[f"{split} {metric} std"] = (
                        float(np.std(values, ddof=1)) if len(values) > 1 else math.nan
                    )
            if variant != BASELINE:
                shared = sorted(set(cell) & set(baseline))
                row["paired seeds"] = len(shared)
                row["unpaired seeds"] = _seed_list(s for s in expected if s not in shared)
                for metric in COMPARED:
                    row.update(
                        _comparison_columns(
                            metric,
                            [ranks_of(baseline[s]) for s in shared],
                            [ranks_of(cell[s]) for s in shared],
                            statistics,
                        )
                    )
            rows.append(row)
    return pd.DataFrame(rows)


def _no_comparison(variant: str, expected: list[int], why: str) -> dict[str, Any]:
    """The gain columns of a row with no run to compare (empty for the baseline)."""
    if variant == BASELINE:
        return {}
    verdicts = {
        f"verdict test {m.replace('hr', 'HR').replace('ndcg', 'NDCG')}": why for m in COMPARED
    }
    return {"paired seeds": 0, "unpaired seeds": _seed_list(expected), **verdicts}


def tracking_ranks(uri: str, run_id: str) -> pd.DataFrame:
    from distillrec.training.tracking import load_per_example_ranks

    return load_per_example_ranks(uri, run_id, "test")


def paired_values(
    metric: str, baseline: list[pd.DataFrame], variant: list[pd.DataFrame]
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Per paired seed, both sides' per-example ``metric``, rows sorted by ``example_id``: the
    same order on every seed, so :func:`~distillrec.study.statistics.compare` resamples an
    example with all its seeds (a cluster), never its seeds apart."""
    base_values, var_values = [], []
    reference: np.ndarray | None = None
    for b, v in zip(baseline, variant, strict=True):
        merged = b.merge(v, on="example_id", suffixes=("_b", "_v"), validate="one_to_one")
        if not len(merged) == len(b) == len(v):
            raise UserError("paired runs were scored on different test examples")
        merged = merged.sort_values("example_id", kind="stable")
        ids = merged["example_id"].to_numpy()
        if reference is None:
            reference = ids
        elif not np.array_equal(ids, reference):
            raise UserError(
                "the seeds' runs were scored on different test examples; the bootstrap "
                "resamples an example with all its seeds, so every seed needs the same ones"
            )
        base_values.append(per_example_metric(merged["rank_b"].to_numpy(), metric))
        var_values.append(per_example_metric(merged["rank_v"].to_numpy(), metric))
    return base_values, var_values


def _comparison_columns(
    metric: str,
    baseline: list[pd.DataFrame],
    variant: list[pd.DataFrame],
    statistics: StatisticsConfig,
) -> dict[str, Any]:
    label = f"test {metric.replace('hr', 'HR').replace('ndcg', 'NDCG')}"
    if not baseline:
        return {f"gain {label} (%)": math.nan, f"verdict {label}": "no paired baseline"}
    result = compare(
        metric,
        *paired_values(metric, baseline, variant),
        confidence=statistics.confidence,
        n_resamples=statistics.n_resamples,
        seed=statistics.seed,
    )
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


def write_study_report(
    uri: str,
    parent_run_id: str,
    dataset: str,
    out_dir: Path,
    *,
    teacher: str | None = None,
) -> dict[str, Path]:
    """Write ``report.{csv,md,png}`` and ``teacher.json`` for one dataset; log them to the
    parent run under ``report/<dataset>``.

    The statistics settings come from the parent run's params (what the study logged when it
    started), so the study's own report and a later ``distillrec report`` agree."""

    mlf = tracking.client(uri)
    parent = mlf.get_run(parent_run_id)
    params = parent.data.params
    runs = study_runs(uri, parent_run_id, dataset)
    if not runs:
        raise UserError(f"dataset {dataset}: the study has no finished runs to report")
    recorded = StatisticsConfig.from_params(params)
    statistics = recorded or StatisticsConfig()
    seeds = _listed(params, "seeds")
    table = study_table(
        uri,
        runs,
        statistics=statistics,
        students=_listed(params, "students"),
        variants=_listed(params, "variants"),
        seeds=[int(s) for s in seeds] if seeds else None,
    )
    teacher = teacher if teacher is not None else params.get(f"{dataset}.teacher_artifact") or None
    dataset_path = _dataset_path(runs)
    summary = teacher_summary(dataset_path, teacher) if teacher else {}
    notes = report_notes(table, pairing_violations(runs), statistics, recorded is not None)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    title = f"Study report: {params.get('study_dir', '').rsplit('/', 1)[-1] or 'study'} / {dataset}"
    files = {ext: out_dir / f"report.{ext}" for ext in ("csv", "md", "png")}
    files["teacher"] = out_dir / "teacher.json"
    with atomic_file(files["csv"]) as handle:
        table.to_csv(handle, index=False)
    with atomic_file(files["md"]) as handle:
        handle.write(to_markdown(table, title, summary, notes, statistics.confidence))
    with atomic_file(files["teacher"]) as handle:
        handle.write(json.dumps(summary, indent=2, default=str) + "\n")
    plot(table, files["png"], title, statistics.confidence)
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


def _dataset_path(runs: list[Any]) -> str:
    return runs[0].data.params["dataset"]


def _listed(params: dict[str, str], key: str) -> list[str] | None:
    return json.loads(params[key]) if key in params else None


def _seed_list(seeds: Any) -> str:
    return ", ".join(str(s) for s in seeds)

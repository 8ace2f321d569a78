"""The teacher on every student run: which model, how good it is on its own, and its MLflow run.

A distillation gain means little without the teacher's own quality next to it, so every student
run (and a sweep's parent run) carries the teacher's identity and val/test HR/NDCG@20 as tags
(named like the students' metrics: ``teacher_val_ndcg_20``), the teacher's MLflow run id, and a
run description whose link opens the teacher's run in the MLflow UI.

Two coverages, two tags:

- ``teacher_train_coverage`` (:data:`TRAIN_COVERAGE_TAG`): the teacher's training coverage, the
  share of the dataset's training examples it ranked (``teacher.artifact.train_coverage``). A
  property of the teacher on that dataset: the same on every run compared with it, baselines of
  a sweep included, and the "training coverage" of every report's teacher block.
- ``rd_coverage`` (:data:`RD_COVERAGE_TAG`): the share of this run's training rows that get a
  ranking-distillation term: the teacher's training coverage on a run that distils rankings
  (``lam > 0``), 0 on any other (baseline, ``ed_only``). What ``rd_average: batch`` scales the
  ranking loss by; a study's table shows it per student and variant.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from distillrec.contracts import metric_key

QUALITY = ("hr@20", "ndcg@20")
RUN_ID_TAG = "teacher_run_id"
TRAIN_COVERAGE_TAG = "teacher_train_coverage"  # the teacher's share of training examples ranked
RD_COVERAGE_TAG = "rd_coverage"  # this run's share of training rows with a ranking-distill term
NOTE_TAG = "mlflow.note.content"  # the run's description in the MLflow UI (Markdown)


def teacher_tags(
    manifest: dict[str, Any], artifact: str | Path | None, train_coverage: float | None = None
) -> dict[str, str]:
    """Identity and own quality of the teacher behind ``artifact`` ({} without a teacher); with
    ``train_coverage`` (``teacher.artifact.train_coverage``), its ``teacher_train_coverage``."""
    if not artifact:
        return {}
    model = (manifest.get("model") or {}).get("base_model") or manifest.get("source", "")
    run_id = manifest.get("mlflow_run_id") or ""
    tags = {
        "teacher_artifact": str(Path(artifact).resolve()),
        "teacher_model": str(model),
        "teacher_source": str(manifest.get("source") or (f"runs:/{run_id}" if run_id else "")),
        RUN_ID_TAG: run_id,
    }
    if train_coverage is not None:
        tags[TRAIN_COVERAGE_TAG] = f"{train_coverage:.4f}"
    for split, values in (manifest.get("metrics") or {}).items():
        for name in QUALITY:
            if name in values:
                tags[f"teacher_{metric_key(name, split)}"] = f"{float(values[name]):.4f}"
    return tags


def run_link(uri: str, run_id: str) -> str | None:
    """The MLflow UI's address of ``run_id`` relative to the UI root, if the store has the run."""
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    try:
        run = MlflowClient(tracking_uri=uri).get_run(run_id)
    except MlflowException:
        return None
    return f"#/experiments/{run.info.experiment_id}/runs/{run_id}"


def run_note(tags: dict[str, str], uri: str) -> str:
    """A student run's description: what it is and which teacher (linked) it was compared with."""
    lines = [
        f"**{tags.get('student', '?')}**, variant `{tags.get('variant', '?')}`, on "
        f"`{tags.get('dataset', '?')}`."
    ]
    if tags.get("teacher_model"):
        quality = ", ".join(
            f"{split} {name.upper()} {tags[key]}"
            for split in ("val", "test")
            for name in QUALITY
            if (key := f"teacher_{metric_key(name, split)}") in tags
        )
        used = "distilled from" if tags.get("variant") != "baseline" else "compared with"
        text = f"Teacher {used}: `{tags.get('teacher_model', '?')}`"
        if quality:
            text += f" (own quality: {quality})"
        link = run_link(uri, tags[RUN_ID_TAG]) if tags.get(RUN_ID_TAG) else None
        if link:
            text += f"; [teacher run]({link})"
        lines.append(text + ".")
    return "\n\n".join(lines)

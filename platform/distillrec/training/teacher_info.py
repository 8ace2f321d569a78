"""The teacher on every student run: which model, how good it is on its own, and its MLflow run.

A distillation gain means little without the teacher's own quality next to it, so every student
run (and a sweep's parent run) carries the teacher's identity and val/test HR/NDCG@20 as tags
(named like the students' metrics: ``teacher_val_ndcg_20``), the teacher's MLflow run id, and a
run description whose link opens the teacher's run in the MLflow UI.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from distillrec.contracts import metric_key

QUALITY = ("hr@20", "ndcg@20")
RUN_ID_TAG = "teacher_run_id"
NOTE_TAG = "mlflow.note.content"  # the run's description in the MLflow UI (Markdown)


def teacher_tags(
    manifest: dict[str, Any], artifact: str | Path | None, num_train: int | None = None
) -> dict[str, str]:
    """Identity and own quality of the teacher behind ``artifact`` ({} without a teacher); with
    ``num_train``, its ``teacher_coverage``: the share of training examples it ranked."""
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
    ranked = (manifest.get("rows") or {}).get("train")
    if num_train and ranked is not None:
        tags["teacher_coverage"] = f"{min(int(ranked) / num_train, 1.0):.4f}"
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

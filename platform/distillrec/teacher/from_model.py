"""A teacher artifact from a trained student (``distillrec teacher from-model``): the positive
control of distillation, and the way to compress a big student into a small one.

For every example of the chosen splits the student's top-K items (its history excluded, as a
recommender would) become the ranking; its scores become distances ``d_k = s_1 - s_k`` (0 for the
first item, ascending), so the confidence weight ``exp(-d/T)`` normalised over the K candidates is
exactly the softmax of the teacher's own scores at temperature T. Its input item embeddings become
the artifact's item embeddings (embedding distillation).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from distillrec.errors import UserError

DEFAULT_TOPK = 20
SPLITS = ("train", "val", "test")


def load_any_student(model_uri: str) -> Any:
    """A :class:`~distillrec.training.packaging.PackagedStudent` from an MLflow model URI
    (``runs:/<id>/model``, ``models:/<name>@champion``) or a saved folder (``student.json``)."""
    from distillrec.training.packaging import (
        SPEC_FILE,
        PackagedStudent,
        load_saved_student,
        load_student,
    )

    folder = Path(model_uri)
    if folder.is_dir():
        if not (folder / SPEC_FILE).is_file():
            raise UserError(f"{folder}: not a saved student (no {SPEC_FILE})")
        model, spec = load_saved_student(folder)
        return PackagedStudent(
            model=model,
            student_name=spec["student"],
            num_items=int(spec["num_items"]),
            max_history=int(spec["max_history"]),
            items=pd.DataFrame(),
            spec=spec,
        )
    try:
        return load_student(model_uri)
    except Exception as err:  # MLflow raises many types for a bad URI
        raise UserError(f"model {model_uri}: cannot load ({type(err).__name__}: {err})") from None


def teacher_from_model(
    model_uri: str,
    dataset: str | Path,
    out_dir: str | Path,
    *,
    topk: int = DEFAULT_TOPK,
    splits: tuple[str, ...] = SPLITS,
    batch_size: int = 1024,
) -> Path:
    """Write a standard teacher artifact (see :mod:`distillrec.teacher.artifact`) to ``out_dir``."""
    import torch
    from tqdm import tqdm

    from distillrec.data import load_prepared
    from distillrec.teacher.artifact import TeacherArtifact, write_artifact

    if topk < 1:
        raise UserError(f"--topk: must be >= 1, got {topk}")
    data = load_prepared(dataset)
    student = load_any_student(model_uri)
    if student.num_items != data.meta.num_items:
        raise UserError(
            f"model {model_uri}: scores {student.num_items} items, dataset {data.path} has "
            f"{data.meta.num_items}"
        )
    made_for = student.spec.get("dataset_fingerprint")
    if made_for and made_for != data.fingerprint:
        raise UserError(
            f"model {model_uri}: trained on dataset fingerprint {made_for!r}, {data.path} has "
            f"{data.fingerprint!r}"
        )
    ids, items, dists = [], [], []
    rows: dict[str, int] = {}
    for split in splits:
        frame = data.split(split)
        rows[split] = len(frame)
        histories = [list(map(int, h)) for h in frame["history"]]
        for start in tqdm(
            range(0, len(histories), batch_size), desc=f"teacher from-model ({split})", leave=False
        ):
            ranked = student.recommend(histories[start : start + batch_size], topk)
            for row in ranked:
                if len(row) < topk:
                    raise UserError(f"{split}: a history leaves fewer than {topk} new items")
                scores = np.array([s for _, s in row], dtype=np.float64)
                items.append(np.array([i for i, _ in row], dtype=np.int64))
                dists.append((scores[0] - scores).astype(np.float32))
        ids.append(frame["example_id"].to_numpy(dtype=np.int64))
    rankings = pd.DataFrame(
        {"example_id": np.concatenate(ids) if ids else [], "items": items, "distances": dists}
    )
    with torch.no_grad():
        embeddings = student.model.item_embeddings.weight[: student.num_items].float().numpy()
    manifest = {
        "kind": "student-teacher",
        "source": f"from-model {model_uri}",
        "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "dataset": str(data.path),
        "dataset_name": data.meta.name,
        "dataset_fingerprint": data.fingerprint,
        "topk": topk,
        "model": {
            "uri": model_uri,
            "student": student.student_name,
            "model_kwargs": student.spec.get("model_kwargs", {}),
            "metrics": student.spec.get("metrics", {}),
        },
        "prompt": "none (a trained student scores every item)",
        "grounding": {
            "distances": "s_1 - s_k: the score gap to the student's first item",
            "history_excluded": True,
        },
        "rows": rows,
        "provenance": student_provenance(student.student_name),
    }
    return write_artifact(
        out_dir, TeacherArtifact(rankings, np.ascontiguousarray(embeddings), manifest)
    )


def student_provenance(student_name: str) -> dict[str, Any]:
    """The manifest's provenance block of a student teacher: library versions and the engine (the
    students' own torch runtime; no LLM, so no model hash, LoRA run or sampling seeds)."""
    import distillrec
    from distillrec.provenance import library_versions

    libraries = library_versions()
    return {
        "libraries": libraries,
        "engine": {
            "name": "distillrec-student",
            "version": distillrec.__version__,
            "runtime": f"torch {libraries.get('torch')}",
            "student": student_name,
        },
    }

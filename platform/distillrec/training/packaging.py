"""A trained student as an MLflow pyfunc model (Contract 3), and loading it back for serving.

Artifacts: ``student.safetensors`` (weights), ``student.json`` (registry name, constructor kwargs,
num_items, max_history, metrics) and ``items.parquet`` (item_id, title). The pyfunc takes a frame
with ``history`` (list of item ids, oldest first) and ``k`` and returns ``items`` and ``scores``.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mlflow.pyfunc
import pandas as pd
import torch

from distillrec.students.base import SequentialRecommender
from distillrec.students.registry import build_student

WEIGHTS_FILE = "student.safetensors"
SPEC_FILE = "student.json"
ITEMS_FILE = "items.parquet"
RECOMMEND_BATCH = 512


def save_student(folder: str | Path, model: SequentialRecommender, spec: dict[str, Any]) -> Path:
    """Write ``student.safetensors`` + ``student.json`` into ``folder`` (which must exist)."""
    from safetensors.torch import save_file

    folder = Path(folder)
    state = {k: v.detach().contiguous() for k, v in model.state_dict().items()}
    save_file(state, str(folder / WEIGHTS_FILE))
    (folder / SPEC_FILE).write_text(json.dumps(spec, indent=2, sort_keys=True) + "\n")
    return folder


def load_saved_student(folder: str | Path) -> tuple[SequentialRecommender, dict[str, Any]]:
    """Rebuild a student from a folder written by :func:`save_student` (eval mode)."""
    from safetensors.torch import load_file

    folder = Path(folder)
    spec = json.loads((folder / SPEC_FILE).read_text())
    model = build_student(spec["student"], **spec["model_kwargs"])
    model.load_state_dict(load_file(str(folder / WEIGHTS_FILE)))
    return model.eval(), spec


@dataclass
class PackagedStudent:
    """A loaded student ready to recommend (what the Serve deployment holds)."""

    model: SequentialRecommender
    student_name: str
    num_items: int
    max_history: int
    items: pd.DataFrame
    spec: dict[str, Any]

    @torch.no_grad()
    def recommend(
        self, histories: list[list[int]], k: int, exclude_history: bool = True
    ) -> list[list[tuple[int, float]]]:
        """Top-``k`` ``(item_id, score)`` per history, best first; batched; each history is
        truncated to its last ``max_history`` items. Empty histories and unknown ids raise
        ``ValueError``."""
        from distillrec.training.batches import pad_histories

        if k < 1:
            raise ValueError(f"k must be >= 1, got {k}")
        k = min(k, self.num_items)
        for h in histories:
            if not len(h):
                raise ValueError("every history needs at least one item")
            if min(h) < 0 or max(h) >= self.num_items:
                raise ValueError(f"item ids must be in [0, {self.num_items})")
        results: list[list[tuple[int, float]]] = []
        for start in range(0, len(histories), RECOMMEND_BATCH):
            chunk = histories[start : start + RECOMMEND_BATCH]
            padded = torch.from_numpy(pad_histories(chunk, self.max_history, self.num_items))
            lengths = torch.tensor([min(len(h), self.max_history) for h in chunk])
            scores = self.model(padded, lengths)  # [B, N]
            if exclude_history:
                seen = torch.zeros(len(chunk), self.num_items + 1, dtype=torch.bool)
                seen.scatter_(1, padded, True)  # the padding column is dropped below
                scores = scores.masked_fill(seen[:, : self.num_items], -torch.inf)
            top = scores.topk(k, dim=1)
            for ids, vals in zip(top.indices.tolist(), top.values.tolist(), strict=True):
                results.append([(i, v) for i, v in zip(ids, vals, strict=True) if v != -torch.inf])
        return results


def _packaged_from_folder(folder: Path) -> PackagedStudent:
    model, spec = load_saved_student(folder)
    items = pd.read_parquet(folder / ITEMS_FILE)
    return PackagedStudent(
        model=model,
        student_name=spec["student"],
        num_items=int(spec["num_items"]),
        max_history=int(spec["max_history"]),
        items=items,
        spec=spec,
    )


class StudentPyfunc(mlflow.pyfunc.PythonModel):
    """The MLflow face of a student: a frame of (history, k) -> a frame of (items, scores)."""

    def load_context(self, context) -> None:
        self.student = _packaged_from_folder(Path(context.artifacts["student"]))

    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:
        histories = [list(map(int, h)) for h in model_input["history"]]
        rows = []
        for history, k in zip(histories, model_input["k"], strict=True):
            (ranked,) = self.student.recommend([history], int(k))
            rows.append({"items": [i for i, _ in ranked], "scores": [s for _, s in ranked]})
        return pd.DataFrame(rows, columns=["items", "scores"])


def _signature():
    from mlflow.models import ModelSignature
    from mlflow.types.schema import Array, ColSpec, Schema

    inputs = Schema([ColSpec(Array("long"), "history"), ColSpec("long", "k")])
    outputs = Schema([ColSpec(Array("long"), "items"), ColSpec(Array("double"), "scores")])
    return ModelSignature(inputs=inputs, outputs=outputs)


def log_student_model(
    model: SequentialRecommender,
    *,
    student_name: str,
    model_kwargs: dict[str, Any],
    items: pd.DataFrame,
    max_history: int,
    artifact_path: str = "model",
    registered_model_name: str | None = None,
    metrics: dict[str, Any] | None = None,
):
    """Log ``model`` to the active MLflow run as a pyfunc model; returns MLflow's ``ModelInfo``.

    A student with a fused teacher embedding must be folded first (``fold_teacher_fusion``).
    """
    if model.teacher_fusion is not None:
        raise ValueError("fold the teacher fusion into the embeddings before packaging")
    spec = {
        "student": student_name,
        "model_kwargs": model_kwargs,
        "num_items": int(model.num_items),
        "max_history": int(max_history),
        "metrics": metrics or {},
    }
    with tempfile.TemporaryDirectory(prefix="distillrec-student-") as tmp:
        folder = save_student(tmp, model, spec)
        items[["item_id", "title"]].to_parquet(folder / ITEMS_FILE, index=False)
        return mlflow.pyfunc.log_model(
            name=artifact_path,
            python_model=StudentPyfunc(),
            artifacts={"student": str(folder)},
            signature=_signature(),
            registered_model_name=registered_model_name,
            pip_requirements=[f"torch=={torch.__version__.split('+')[0]}", "safetensors", "pandas"],
        )


def load_student(model_uri: str) -> PackagedStudent:
    """Load a packaged student from any MLflow model URI (``runs:/...``, ``models:/name@alias``)."""
    pyfunc = mlflow.pyfunc.load_model(model_uri)
    return pyfunc.unwrap_python_model().student

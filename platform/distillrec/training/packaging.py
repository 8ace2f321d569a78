"""A trained student as an MLflow pyfunc model (Contract 3), and loading it back for serving.

Artifacts: ``student.safetensors`` (weights), ``student.json`` (registry name, constructor kwargs,
num_items, max_history, metrics) and ``items.parquet`` (item_id, title). The pyfunc takes a frame
with ``history`` (list of item ids, oldest first) and ``k`` and returns ``items`` and ``scores``.

Nothing pickled, in either direction. The pyfunc is logged as an MLflow *model from code*
(``python_model`` is the path of :mod:`distillrec.training.student_model`, which MLflow copies and
runs on ``mlflow.pyfunc.load_model``), so no ``python_model.pkl`` is written. :func:`load_student`
(serving) does not go through ``mlflow.pyfunc.load_model`` at all: it downloads the model folder and
reads only data files (safetensors, JSON, parquet) into classes of the installed package, so a
crafted folder (a ``python_model.pkl`` or a code file with a payload) has nothing to run.
"""

from __future__ import annotations

import json
import math
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mlflow.pyfunc
import pandas as pd
import torch

from distillrec.errors import UserError
from distillrec.students.base import SequentialRecommender
from distillrec.students.registry import build_student

WEIGHTS_FILE = "student.safetensors"
SPEC_FILE = "student.json"
ITEMS_FILE = "items.parquet"
RECOMMEND_BATCH = 512
#: The pyfunc's artifact name; MLflow stores it at ``<model>/artifacts/<name>/``.
ARTIFACT_NAME = "student"
#: The models-from-code script MLflow copies into every logged model.
MODEL_CODE_FILE = Path(__file__).with_name("student_model.py")


class NonFiniteScoresError(ValueError):
    """The model produced NaN or infinite scores: its ranking is meaningless."""


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
    def rank(
        self, histories: list[list[int]], k: int, exclude_history: bool = True
    ) -> list[list[tuple[int, float]] | None]:
        """Top-``k`` ``(item_id, score)`` per history, best first; ``None`` for a history whose
        scores are not all finite (NaN or inf: the ranking would be meaningless).

        The model sees the last ``max_history`` items of each history; ``exclude_history`` leaves
        out every item of the history as sent, also the older ones the model did not see.
        Empty histories and unknown ids raise ``ValueError``.
        """
        from distillrec.training.batches import pad_histories

        if k < 1:
            raise ValueError(f"k must be >= 1, got {k}")
        k = min(k, self.num_items)
        for h in histories:
            if not len(h):
                raise ValueError("every history needs at least one item")
            if min(h) < 0 or max(h) >= self.num_items:
                raise ValueError(f"item ids must be in [0, {self.num_items})")
        results: list[list[tuple[int, float]] | None] = []
        for start in range(0, len(histories), RECOMMEND_BATCH):
            chunk = histories[start : start + RECOMMEND_BATCH]
            padded = torch.from_numpy(pad_histories(chunk, self.max_history, self.num_items))
            lengths = torch.tensor([min(len(h), self.max_history) for h in chunk])
            scores = self.model(padded, lengths)  # [B, N]
            finite = torch.isfinite(scores).all(dim=1).tolist()
            if exclude_history:
                sizes = torch.tensor([len(h) for h in chunk])
                rows = torch.repeat_interleave(torch.arange(len(chunk)), sizes)
                cols = torch.tensor([i for h in chunk for i in h], dtype=torch.long)
                seen = torch.zeros(len(chunk), self.num_items, dtype=torch.bool)
                seen[rows, cols] = True
                scores = scores.masked_fill(seen, -torch.inf)
            top = scores.topk(k, dim=1)
            for ok, ids, vals in zip(
                finite, top.indices.tolist(), top.values.tolist(), strict=True
            ):
                ranked = [(i, v) for i, v in zip(ids, vals, strict=True) if v != -math.inf]
                results.append(ranked if ok else None)
        return results

    def recommend(
        self, histories: list[list[int]], k: int, exclude_history: bool = True
    ) -> list[list[tuple[int, float]]]:
        """Top-``k`` ``(item_id, score)`` per history, best first (see :meth:`rank`); raises
        :class:`NonFiniteScoresError` when any history gets a non-finite score."""
        ranked = self.rank(histories, k, exclude_history)
        bad = [i for i, row in enumerate(ranked) if row is None]
        if bad:
            raise NonFiniteScoresError(
                f"{self.student_name}: non-finite scores (NaN/inf) for {len(bad)} of "
                f"{len(ranked)} histories (first: index {bad[0]})"
            )
        return ranked  # type: ignore[return-value]

    def probe_finite(self) -> None:
        """Score a few fixed histories and raise :class:`NonFiniteScoresError` if any score is
        NaN or infinite: a model that is broken everywhere is refused before it serves."""
        last = self.num_items - 1
        probes = [[0], [last], list(range(min(self.max_history, self.num_items)))]
        self.recommend(probes, 1, exclude_history=False)


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
        self.student = _packaged_from_folder(Path(context.artifacts[ARTIFACT_NAME]))

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
        # MLflow names the copy after the folder: artifacts/student/ (what load_student reads)
        folder = Path(tmp) / ARTIFACT_NAME
        folder.mkdir()
        save_student(folder, model, spec)
        items[["item_id", "title"]].to_parquet(folder / ITEMS_FILE, index=False)
        return mlflow.pyfunc.log_model(
            name=artifact_path,
            python_model=str(MODEL_CODE_FILE),  # model from code: no python_model.pkl
            artifacts={ARTIFACT_NAME: str(folder)},
            signature=_signature(),
            registered_model_name=registered_model_name,
            pip_requirements=[f"torch=={torch.__version__.split('+')[0]}", "safetensors", "pandas"],
        )


def load_student(model_uri: str) -> PackagedStudent:
    """Load a packaged student from any MLflow model URI (``runs:/...``, ``models:/name@alias``).

    Reads only ``artifacts/student/`` (safetensors, JSON, parquet) of the downloaded model folder:
    no pickle is opened and no code from the folder runs, whatever its ``MLmodel`` declares.
    """
    from mlflow.artifacts import download_artifacts

    with tempfile.TemporaryDirectory(prefix="distillrec-load-") as tmp:
        root = Path(download_artifacts(artifact_uri=model_uri, dst_path=tmp))
        folder = root / "artifacts" / ARTIFACT_NAME
        missing = [n for n in (WEIGHTS_FILE, SPEC_FILE, ITEMS_FILE) if not (folder / n).is_file()]
        if missing:
            raise UserError(
                f"model {model_uri!r}: not a distillrec student (no {', '.join(missing)} under "
                f"artifacts/{ARTIFACT_NAME}/); log it with log_student_model"
            )
        return _packaged_from_folder(folder)

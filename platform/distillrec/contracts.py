"""Names and rules several stages must agree on, written once.

The data stage writes where training, the teacher, sweeps and the demo look; training logs the
metrics that Tune, the champion registration, reports and studies read; the sweep registers the
model name and alias that serving loads. A change to any of these is a change to a contract
between stages, so each lives here and nowhere else (see docs/architecture.md).
"""

from __future__ import annotations

from pathlib import Path

DATA_ROOT = Path("data")  # where `distillrec data prepare` writes data/<name>/

MODEL_NAME_PREFIX = "distillrec-"  # registered model of a dataset: distillrec-<dataset>
CHAMPION_ALIAS = "champion"  # the registry alias of the version to serve

SELECTION_METRIC = "ndcg@20"  # early stopping, ASHA, search algorithms and the champion maximise it

BASELINE = "baseline"  # sweep variant: the student without distillation (lam = ed_weight = 0)
DISTILL = "dllm2rec"  # sweep variant: the student with DLLM2Rec distillation


def dataset_path(dataset: str | Path) -> Path:
    """A prepared dataset's folder: a bare name means ``data/<name>``, anything else is a path.

    A bare name is one path component not starting with ``.`` (``ml-100k``); ``./ml-100k``,
    ``data/ml-100k`` and absolute paths are taken as they are. The rule does not look at the disk,
    so the same config means the same folder wherever it is read.
    """
    text = str(dataset)
    path = Path(text)
    if len(path.parts) == 1 and not path.is_absolute() and not text.startswith("."):
        return DATA_ROOT / text
    return path


def metric_key(name: str, split: str | None = None) -> str:
    """MLflow's (and Tune's) name of a metric: ``"hr@20"`` -> ``"hr_20"``, with an optional
    split prefix: ``("ndcg@20", "val")`` -> ``"val_ndcg_20"`` (MLflow rejects ``@``)."""
    key = name.replace("@", "_")
    return f"{split}_{key}" if split else key


def split_metrics(split: str, metrics: dict[str, float]) -> dict[str, float]:
    """``("val", {"ndcg@20": x})`` -> ``{"val_ndcg_20": x}``: how training logs a split's metrics
    to MLflow and how a sweep trial reports them to Tune."""
    return {metric_key(name, split): float(value) for name, value in metrics.items()}


def registered_model_name(dataset: str) -> str:
    """The registry name of a dataset's champion (``distillrec-<dataset>``)."""
    return f"{MODEL_NAME_PREFIX}{dataset}"


def champion_model_uri(dataset: str) -> str:
    """``models:/distillrec-<dataset>@champion``: what serving loads by default."""
    return f"models:/{registered_model_name(dataset)}@{CHAMPION_ALIAS}"


VAL_METRIC = metric_key(SELECTION_METRIC, "val")  # per epoch: val_ndcg_20
SELECTION_KEY = metric_key(SELECTION_METRIC, "best_val")  # a finished run: best_val_ndcg_20
TEST_SELECTION_KEY = metric_key(SELECTION_METRIC, "test")  # a finished run: test_ndcg_20

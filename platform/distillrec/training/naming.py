"""Names a researcher can compare 20 runs by: what differs between them is in the name.

A run is named ``<dataset>-<student>-<variant>[-lam<x>-ed<y>]-lr<z>-seed<n>[-t<trial>]``, e.g.
``ml-100k-gru4rec-dllm2rec-lam0.62-ed0.1-lr0.00448-seed0-t00003`` (the sweep appends the Tune trial
index, so two trials that happen to share every shown value still differ). The logged model is
named ``<dataset>-<student>-<variant>`` (MLflow model names may not hold ``.``).
"""

from __future__ import annotations

import re
from typing import Any

from distillrec.contracts import BASELINE, DISTILL

_MODEL_NAME_BAD = re.compile(r"[/:.%\"']")


def variant_of(config: Any, teacher: str | None = None) -> str:
    """``dllm2rec`` when a teacher is used with a non-zero distillation weight, else baseline.

    ``teacher`` is the artifact actually used when it was given outside the config
    (``distillrec train --teacher``).
    """
    uses_teacher = config.distill.lam > 0 or config.distill.ed_weight > 0
    return DISTILL if (teacher or config.teacher) and uses_teacher else BASELINE


def run_name(config: Any, dataset: str, *, variant: str, trial: str | None = None) -> str:
    """The MLflow run name of one training run (see the module docstring)."""
    parts = [dataset, config.student, variant]
    if variant != BASELINE:
        parts += [f"lam{_short(config.distill.lam)}", f"ed{_short(config.distill.ed_weight)}"]
    if config.student != "popularity":
        parts.append(f"lr{_short(config.lr)}")
    parts.append(f"seed{config.seed}")
    if trial:
        parts.append(f"t{trial}")
    return "-".join(parts)


def model_name(dataset: str, student: str, variant: str) -> str:
    """The logged model's name, e.g. ``ml-100k-gru4rec-dllm2rec``."""
    return _MODEL_NAME_BAD.sub("-", f"{dataset}-{student}-{variant}")


def trial_index(trial_id: str) -> str:
    """Ray Tune's ``"a1b2c_00003"`` -> ``"00003"`` (the part that differs between trials)."""
    return trial_id.rsplit("_", 1)[-1]


def _short(value: float) -> str:
    return f"{value:.3g}"

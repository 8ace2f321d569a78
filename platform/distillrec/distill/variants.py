"""Named distillation variants and student presets: what differs between the paired runs of a study.

A *variant* is a set of dotted ``TrainConfig`` overrides that touches only distillation settings
(``distill.*`` and ``teacher``), so within a (dataset, student, seed) cell every variant shares
every other setting: the runs are paired. Built in: the no-distillation ``baseline``, the full
``dllm2rec`` (ranking + embedding distillation with the config's settings) and the paper's
ablations (DLLM2Rec, RecSys 2024, Table 4): ``rd_only`` (no embedding distillation), ``ed_only``
(no ranking distillation), ``no_position``, ``no_confidence`` and ``no_consistency`` (one
importance weight switched off). Users add their own in a study's ``custom_variants``.

A *student preset* is a student architecture plus the main-loss settings that make it the paper's
student: ``gru4rec``, ``caser`` and ``sasrec`` run **without** the DROS term, and ``dros`` is
SASRec **with** it (the paper's third student; ``TrainConfig``'s own default keeps DROS on for
every student, as the reference code's ``alpha`` does).
"""

from __future__ import annotations

from typing import Any

from distillrec.contracts import BASELINE, DISTILL

NO_DISTILLATION: dict[str, Any] = {"teacher": None, "distill.lam": 0.0, "distill.ed_weight": 0.0}

BUILTIN_VARIANTS: dict[str, dict[str, Any]] = {
    BASELINE: NO_DISTILLATION,
    DISTILL: {},
    "rd_only": {"distill.ed_weight": 0.0},
    "ed_only": {"distill.lam": 0.0},
    "no_position": {"distill.gamma_position": 0.0},
    "no_confidence": {"distill.gamma_confidence": 0.0},
    "no_consistency": {"distill.gamma_consistency": 0.0},
}

STUDENT_PRESETS: dict[str, dict[str, Any]] = {
    "gru4rec": {"student": "gru4rec", "dros.alpha": 0.0},
    "caser": {"student": "caser", "dros.alpha": 0.0},
    "sasrec": {"student": "sasrec", "dros.alpha": 0.0},
    "dros": {"student": "sasrec", "dros.alpha": 1.0},
}


def is_distillation_key(key: str) -> bool:
    """Keys a variant may change (everything else must be equal within a paired cell)."""
    return key == "teacher" or key.startswith("distill.")


def check_variant(name: str, overrides: dict[str, Any]) -> None:
    """A user variant may touch only distillation settings (``ValueError`` names the key)."""
    bad = sorted(k for k in overrides if not is_distillation_key(k))
    if bad:
        raise ValueError(
            f"variant {name!r}: {bad} are not distillation settings (only distill.* and teacher "
            "may differ between paired runs)"
        )

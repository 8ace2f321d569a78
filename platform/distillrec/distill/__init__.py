"""DLLM2Rec distillation: importance weights, main and ranking losses, the batch objective,
embedding fusion."""

from distillrec.distill.embedding import TeacherEmbeddingFusion
from distillrec.distill.losses import (
    dros_propensity,
    dros_terms,
    main_loss,
    ranking_distillation_loss,
)
from distillrec.distill.objective import TeacherTargets, dllm2rec_loss
from distillrec.distill.weights import importance_weights

__all__ = [
    "TeacherEmbeddingFusion",
    "TeacherTargets",
    "dllm2rec_loss",
    "dros_propensity",
    "dros_terms",
    "importance_weights",
    "main_loss",
    "ranking_distillation_loss",
]

"""Non-finite numbers stop a run: a NaN loss or score is a broken model, never a result.

``scores > target_score`` is False for NaN, so an all-NaN model would rank every target first
(HR@20 = 1.0) and win a sweep. Training checks every batch loss and every evaluated score, and
raises :class:`NonFiniteError` (one line, exit 2 from the CLI); the MLflow run then ends FAILED
with no model logged, so nothing non-finite can be registered or served.
"""

from __future__ import annotations

import torch

from distillrec.errors import UserError


class NonFiniteError(UserError):
    """A loss or score became NaN or infinite (the run is stopped, nothing is saved)."""


HINT = "lower lr, or check dros.beta/dros.alpha and the distill weights"


def check_loss(loss: torch.Tensor, batch: int) -> None:
    """Raise when the batch loss is NaN/inf (``batch``: 1-based index in the epoch)."""
    if not bool(torch.isfinite(loss.detach())):
        raise NonFiniteError(
            f"training loss is {float(loss.detach())} at batch {batch}; run stopped ({HINT})"
        )


def check_scores(scores: torch.Tensor, split: str) -> None:
    """Raise when any score of an evaluated batch is NaN/inf."""
    finite = torch.isfinite(scores)
    if not bool(finite.all()):
        bad = int((~finite).sum())
        raise NonFiniteError(
            f"{split} scores: {bad} of {scores.numel()} are NaN or infinite; run stopped ({HINT})"
        )

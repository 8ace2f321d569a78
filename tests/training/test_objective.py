"""One DLLM2Rec objective: training's batch loss and the benchmark's "ours" are the same function,
and the benchmark's reference side sees the same ``covered`` rows, position and confidence
temperatures and confidence form."""

from __future__ import annotations

import pytest
import torch

from distillrec.distill import TeacherTargets, dllm2rec_loss, main_loss
from distillrec.training.bench import _loss, max_loss_difference
from distillrec.training.config import DistillConfig, TrainConfig
from distillrec.training.setup import prepare_training


def test_objective_is_main_loss_without_a_covered_row() -> None:
    torch.manual_seed(0)
    scores, target, negative = torch.randn(4, 9), torch.tensor([1, 2, 3, 4]), torch.zeros(4).long()
    teacher = TeacherTargets(
        torch.randint(0, 9, (4, 5)), torch.rand(4, 5).sort(1).values, torch.zeros(4, dtype=bool)
    )
    settings = DistillConfig(lam=0.7, candidate_topk=3)
    alone = main_loss(scores, target, negative, None, alpha=0.0)
    for given in (None, teacher):
        got = dllm2rec_loss(
            scores, target, negative, None, alpha=0.0, beta=1.0, distill=settings, teacher=given
        )
        assert got.item() == pytest.approx(alone.item())
    teacher.covered[0] = True
    got = dllm2rec_loss(
        scores, target, negative, None, alpha=0.0, beta=1.0, distill=settings, teacher=teacher
    )
    assert got.item() > alone.item()  # a covered row adds its (positive) distillation term


def test_benchmark_times_the_training_loss(tiny_dataset, tiny_teacher) -> None:
    overrides = {"distill": {"position_temperature": 2.5, "ed_weight": 0.0}, "dropout": 0.0}
    config = TrainConfig(dataset=str(tiny_dataset), student="gru4rec", batch_size=16, **overrides)
    setup = prepare_training(config, tiny_teacher)
    assert 0 < setup.rd_coverage < 1  # the tiny teacher leaves rows uncovered
    index = torch.arange(16)
    ours = _loss(setup, index, torch.Generator().manual_seed(3), reference=False)
    trained = setup.batch_loss(index, torch.Generator().manual_seed(3))
    assert ours.item() == trained.item()
    init = {k: v.clone() for k, v in setup.model.state_dict().items()}
    assert max_loss_difference(setup, init, batches=4) < 1e-5


def test_benchmark_reference_honours_confidence_temperature_and_form(
    tiny_dataset, tiny_teacher
) -> None:
    """The reference side divides the distances by ``confidence_temperature`` and uses the
    configured ``confidence_form`` (before, it always computed ``exp(-d) + 1e-8``). At T = 0.02
    the tiny teacher's distances (0 to 3) make the two forms differ: ``exp(-d/T)`` falls below
    the reference's 1e-8 for most candidates."""
    losses = {}
    for form in ("reference", "softmax"):
        distill = {
            "confidence_temperature": 0.02,
            "confidence_form": form,
            "gamma_position": 0.1,
            "gamma_confidence": 0.8,
            "gamma_consistency": 0.1,
            "ed_weight": 0.0,
        }
        data = str(tiny_dataset)
        config = TrainConfig(dataset=data, student="gru4rec", batch_size=16, distill=distill)
        setup = prepare_training(config, tiny_teacher)
        init = {k: v.clone() for k, v in setup.model.state_dict().items()}
        assert max_loss_difference(setup, init, batches=4) < 1e-5
        setup.model.eval()
        losses[form] = _loss(setup, torch.arange(16), torch.Generator().manual_seed(3), False)
    assert abs(losses["reference"].item() - losses["softmax"].item()) > 1e-4  # the form matters

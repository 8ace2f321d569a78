"""One DLLM2Rec objective: training's batch loss and the benchmark's "ours" are the same function,
and the benchmark's reference side sees the same ``covered`` rows and position temperature."""

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
    assert 0 < setup.teacher_coverage < 1  # the tiny teacher leaves rows uncovered
    index = torch.arange(16)
    ours = _loss(setup, index, torch.Generator().manual_seed(3), reference=False)
    trained = setup.batch_loss(index, torch.Generator().manual_seed(3))
    assert ours.item() == trained.item()
    init = {k: v.clone() for k, v in setup.model.state_dict().items()}
    assert max_loss_difference(setup, init, batches=4) < 1e-5

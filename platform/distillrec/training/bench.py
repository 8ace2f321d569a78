"""Benchmark: our vectorised DLLM2Rec loss vs the reference's per-candidate loop, same data,
model, seed and batches (``jobs/bench_training.py`` prints the result).

Our side is the loss training runs (:meth:`TrainingSetup.batch_loss`, i.e.
:func:`distillrec.distill.dllm2rec_loss`), so the benchmark times what a training epoch computes."""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass

import numpy as np
import torch

from distillrec.distill import TeacherTargets
from distillrec.distill.reference_loop import (
    reference_main_loss,
    reference_ranking_loss,
    reference_weights,
)
from distillrec.training.config import TrainConfig
from distillrec.training.setup import TrainingSetup, prepare_training


@dataclass
class BenchResult:
    batches: int
    ours_seconds: float
    reference_seconds: float
    max_loss_diff: float
    epoch_batches: int

    @property
    def ratio(self) -> float:
        return self.reference_seconds / self.ours_seconds


def synthetic_teacher(setup: TrainingSetup, k: int, seed: int) -> TeacherTargets:
    """Random top-K rankings for every training row (used without --teacher)."""
    rng = np.random.default_rng(seed)
    n, num_items = len(setup.splits["train"]), setup.model.num_items
    items = torch.from_numpy(rng.integers(0, num_items, size=(n, k)))
    dists = torch.from_numpy(np.sort(rng.random((n, k)) * 3, axis=1).astype(np.float32))
    return TeacherTargets(items, dists, torch.ones(n, dtype=torch.bool))


def _loss(setup: TrainingSetup, index, generator, reference: bool) -> torch.Tensor:
    """Ours: exactly the loss training runs (``setup.batch_loss``). Reference: the same batch
    through the reference's loop, with the same ``covered`` rows, ``rd_average``, position and
    confidence temperatures and confidence form."""
    if not reference:
        return setup.batch_loss(index, generator)
    batch = setup.batch(index, generator)
    d, k = setup.config.distill, setup.config.distill.candidate_topk
    a, b, ps = setup.config.dros.alpha, setup.config.dros.beta, setup.propensity
    if batch.teacher is None:  # lam = 0: the main loss alone, as in training
        return reference_main_loss(batch.scores, batch.target, batch.negative, ps, a, b)
    scores, items = batch.scores, batch.teacher.items[:, :k]
    gammas = (d.gamma_position, d.gamma_confidence, d.gamma_consistency)
    temperatures = (d.position_temperature, d.confidence_temperature)
    w = reference_weights(
        items, batch.teacher.distances[:, :k], scores, *gammas, *temperatures, d.confidence_form
    )
    covered = batch.teacher.covered.to(w.dtype)
    w = w * covered.unsqueeze(1)  # uncovered rows add 0
    rd = reference_ranking_loss(scores, items, w, batch.negative, ps, a, b, d.negative_form)
    if d.rd_average == "covered":  # the loop averages over the batch; training over covered rows
        rd = rd * len(covered) / covered.sum().clamp_min(1.0)
    return reference_main_loss(scores, batch.target, batch.negative, ps, a, b) + d.lam * rd


def _timed_run(setup, init_state, reference: bool, batches: int) -> tuple[float, list[float]]:
    """Train ``batches`` steps from ``init_state`` with one loss; seconds and per-batch losses."""
    setup.model.load_state_dict(init_state)
    setup.model.train()
    torch.manual_seed(setup.config.seed)
    generator = torch.Generator().manual_seed(setup.config.seed)
    optimizer = torch.optim.Adam(setup.model.parameters(), lr=setup.config.lr, eps=1e-8)
    order = torch.randperm(len(setup.splits["train"]), generator=generator)
    losses = []
    start = time.perf_counter()
    for index in order.split(setup.config.batch_size)[:batches]:
        loss = _loss(setup, index, generator, reference)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        losses.append(float(loss.detach()))
    return time.perf_counter() - start, losses


@torch.no_grad()
def max_loss_difference(setup: TrainingSetup, init_state, batches: int) -> float:
    """Both losses on identical model states and inputs (the ref's negatives are re-drawn the
    same way), stepping with ours; the largest absolute difference."""
    setup.model.load_state_dict(init_state)
    setup.model.eval()  # no dropout: both see the same scores
    generator = torch.Generator().manual_seed(setup.config.seed)
    order = torch.randperm(len(setup.splits["train"]), generator=generator)
    worst = 0.0
    for index in order.split(setup.config.batch_size)[:batches]:
        state = generator.get_state()
        ours = _loss(setup, index, generator, reference=False)
        generator.set_state(state)
        ref = _loss(setup, index, generator, reference=True)
        worst = max(worst, abs(float(ours) - float(ref)))
    return worst


def bench_training(config: TrainConfig, teacher_dir=None, batches: int = 50) -> BenchResult:
    """Time ``batches`` training steps with each loss (same init, seed and batches)."""
    if config.num_threads:
        torch.set_num_threads(config.num_threads)
    no_ed = config.distill.model_copy(update={"ed_weight": 0.0})  # ED costs both sides the same
    config = config.model_copy(update={"distill": no_ed})
    setup = prepare_training(config, teacher_dir)
    if setup.teacher is None:
        setup.teacher = synthetic_teacher(setup, config.distill.candidate_topk, config.seed)
    init_state = copy.deepcopy(setup.model.state_dict())
    epoch_batches = -(-len(setup.splits["train"]) // config.batch_size)
    batches = min(batches, epoch_batches)
    diff = max_loss_difference(setup, init_state, min(batches, 10))
    ours, _ = _timed_run(setup, init_state, False, batches)
    ref, _ = _timed_run(setup, init_state, True, batches)
    return BenchResult(batches, ours, ref, diff, epoch_batches)

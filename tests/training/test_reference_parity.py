"""Our vectorised loss equals the reference's per-candidate loop (same inputs, both forms)."""

from __future__ import annotations

import pytest
import torch

from distillrec.distill import (
    dros_propensity,
    importance_weights,
    main_loss,
    ranking_distillation_loss,
)
from distillrec.distill.reference_loop import (
    reference_main_loss,
    reference_ranking_loss,
    reference_weights,
)


@pytest.mark.parametrize("form", ["standard", "reference"])
def test_vectorised_loss_matches_reference_loop(form: str):
    gen = torch.Generator().manual_seed(0)
    batch, n, k = 32, 40, 10
    scores = torch.randn(batch, n, generator=gen, dtype=torch.float64) * 2
    target = torch.randint(0, n, (batch,), generator=gen)
    negative = torch.randint(0, n, (batch,), generator=gen)
    candidates = torch.stack([torch.randperm(n, generator=gen)[:k] for _ in range(batch)])
    distances = torch.rand(batch, k, generator=gen, dtype=torch.float64).sort(dim=1).values
    ps = dros_propensity(torch.randint(0, n, (500,), generator=gen).numpy(), n).double()
    gammas = {"gamma_position": 0.3, "gamma_confidence": 0.5, "gamma_consistency": 0.1}
    ours_w = importance_weights(candidates, distances, scores, **gammas).double()
    ref_w = reference_weights(candidates, distances.float(), scores, *gammas.values()).double()
    assert torch.allclose(ours_w, ref_w, atol=1e-6)
    ours = main_loss(scores, target, negative, ps, alpha=1.0, beta=1.0) + 0.8 * (
        ranking_distillation_loss(scores, candidates, ref_w, negative, ps, negative_form=form)
    )
    ref = reference_main_loss(scores, target, negative, ps, 1.0, 1.0) + 0.8 * (
        reference_ranking_loss(scores, candidates, ref_w, negative, ps, 1.0, 1.0, form)
    )
    assert abs(ours.item() - ref.item()) < 1e-6  # the goal of the benchmark is 1e-5


@pytest.mark.parametrize("form", ["reference", "softmax"])
@pytest.mark.parametrize("temperature", [1.0, 2.5])
def test_reference_weights_follow_confidence_temperature_and_form(temperature: float, form: str):
    """LLM-like grounding distances (``d / T`` from 5 to 40): the reference form's 1e-8
    outweighs ``exp(-d / T)`` for most candidates, so the forms differ; both sides agree on
    each. A side that ignored T would see ``d / T`` 2.5 times larger at T = 2.5."""
    gen = torch.Generator().manual_seed(1)
    batch, n, k = 16, 40, 10
    scores = torch.randn(batch, n, generator=gen)
    candidates = torch.stack([torch.randperm(n, generator=gen)[:k] for _ in range(batch)])
    distances = temperature * (5 + 35 * torch.rand(batch, k, generator=gen)).sort(dim=1).values
    gammas = {"gamma_position": 0.2, "gamma_confidence": 0.7, "gamma_consistency": 0.1}
    ours = importance_weights(
        candidates,
        distances,
        scores,
        **gammas,
        confidence_temperature=temperature,
        confidence_form=form,
    )
    ref = reference_weights(candidates, distances, scores, *gammas.values(), 1.0, temperature, form)
    assert torch.allclose(ours, ref, atol=1e-6)
    other = "softmax" if form == "reference" else "reference"
    apart = reference_weights(
        candidates, distances, scores, *gammas.values(), 1.0, temperature, other
    )
    assert (ours - apart).abs().max() > 1e-3  # the two forms are told apart at these distances

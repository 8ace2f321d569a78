"""Importance weights and losses against values computed by hand (plain Python math)."""

from __future__ import annotations

import math

import pytest
import torch

from distillrec.distill import (
    dros_propensity,
    dros_terms,
    importance_weights,
    main_loss,
    ranking_distillation_loss,
)
from distillrec.distill.weights import confidence_weights, consistency_weights, position_weights


def softplus(x: float) -> float:
    return math.log1p(math.exp(x))


def test_position_weights_by_hand():
    raw = [math.exp(-1), math.exp(-2), math.exp(-3)]
    assert position_weights(3).tolist() == pytest.approx([r / sum(raw) for r in raw], abs=1e-7)
    raw2 = [math.exp(-r / 2) for r in (1, 2, 3)]
    assert position_weights(3, 2.0).tolist() == pytest.approx([r / sum(raw2) for r in raw2])


def test_confidence_weights_by_hand():
    d = torch.tensor([[0.0, math.log(2), math.log(4)]])
    assert confidence_weights(d)[0].tolist() == pytest.approx([1 / 1.75, 0.5 / 1.75, 0.25 / 1.75])
    huge = confidence_weights(torch.tensor([[500.0, 501.0]]))  # no underflow to 0/0
    assert huge[0].tolist() == pytest.approx(
        [1 / (1 + math.exp(-1)), math.exp(-1) / (1 + math.exp(-1))]
    )


def test_consistency_weights_by_hand():
    scores = torch.tensor([[0.0, 9.0, 8.0, 7.0, 0.0, 0.0, 0.0, 0.0]])  # student top-3: {1, 2, 3}
    items = torch.tensor([[5, 1, 7]])
    assert consistency_weights(items, scores, epsilon=1e-8)[0].tolist() == pytest.approx(
        [1e-8, 1 + 1e-8, 1e-8]
    )


def test_importance_weights_combine_and_normalise_by_hand():
    scores = torch.tensor([[0.0, 9.0, 8.0, 7.0, 0.0, 0.0, 0.0, 0.0]], requires_grad=True)
    items = torch.tensor([[5, 1, 7]])
    d = torch.tensor([[0.0, math.log(2), math.log(4)]])
    wp = [math.exp(-r) / sum(math.exp(-j) for j in (1, 2, 3)) for r in (1, 2, 3)]
    wc = [1 / 1.75, 0.5 / 1.75, 0.25 / 1.75]
    wo = [1e-8, 1 + 1e-8, 1e-8]
    raw = [0.3 * p + 0.5 * c + 0.1 * o for p, c, o in zip(wp, wc, wo, strict=True)]
    expected = [r / sum(raw) for r in raw]
    w = importance_weights(
        items, d, scores, gamma_position=0.3, gamma_confidence=0.5, gamma_consistency=0.1
    )
    assert w[0].tolist() == pytest.approx(expected, abs=1e-7)
    assert not w.requires_grad


def test_importance_weights_rows_sum_to_one_and_reject_bad_gammas():
    g = torch.Generator().manual_seed(0)
    items = torch.randint(0, 50, (7, 10), generator=g)
    d = torch.rand(7, 10, generator=g).sort(dim=1).values * 5
    w = importance_weights(
        items,
        d,
        torch.randn(7, 50, generator=g),
        gamma_position=1,
        gamma_confidence=0,
        gamma_consistency=2,
        position_temperature=3.0,
    )
    assert w.shape == (7, 10)
    assert torch.allclose(w.sum(dim=1), torch.ones(7))
    with pytest.raises(ValueError, match="gammas"):
        importance_weights(
            items, d, torch.randn(7, 50), gamma_position=0, gamma_confidence=0, gamma_consistency=0
        )


def test_dros_propensity_by_hand():
    ps = dros_propensity([0, 0, 2], num_items=3)  # counts 2, 0, 1 -> (3, 1, 2) / 6
    assert ps.tolist() == pytest.approx([(3 / 6) ** 0.05, (1 / 6) ** 0.05, (2 / 6) ** 0.05])


def test_main_loss_by_hand_without_and_with_dros():
    scores = torch.tensor([[2.0, -1.0, 0.5]])
    target, negative = torch.tensor([0]), torch.tensor([1])
    bce = 0.5 * (softplus(-2.0) + softplus(-1.0))
    plain = main_loss(scores, target, negative, None, alpha=0.0)
    assert plain.item() == pytest.approx(bce, rel=1e-6)
    ps = torch.tensor([1.0, 0.5, 2.0])
    # inner = e^{1*4} + e^{0.5*1} + e^{2*0.25} - e^{1*4} + e^{1*(2-1)^2}, beta = 2 halves exponents
    inner = math.exp(0.5 / 2) + math.exp(0.5 / 2) + math.exp(1 / 2)
    with_dros = main_loss(scores, target, negative, ps, alpha=0.7, beta=2.0)
    assert with_dros.item() == pytest.approx(bce + 0.7 * math.log(inner), rel=1e-6)


def test_dros_terms_stay_finite_for_large_scores():
    scores = torch.tensor([[60.0, -55.0, 3.0, 0.0]], requires_grad=True)
    out = dros_terms(scores, torch.tensor([[0, 2]]), torch.ones(4), beta=1.0)
    assert torch.isfinite(out).all()
    # positive 2: log(e^{3600} + e^{3025} + e^0 - e^9 + e^9 ... ) ~= 3600
    assert out[0, 1].item() == pytest.approx(3600.0, rel=1e-6)
    out.sum().backward()
    assert torch.isfinite(scores.grad).all()


@pytest.mark.parametrize("form", ["standard", "reference"])
def test_ranking_distillation_by_hand(form: str):
    scores = torch.tensor([[1.0, -2.0, 0.5, 3.0], [0.0, 1.0, 2.0, -1.0]])
    candidates = torch.tensor([[3, 2], [1, 0]])
    weights = torch.tensor([[0.75, 0.25], [0.5, 0.5]])
    negative = torch.tensor([1, 3])
    covered = torch.tensor([True, False])
    neg = softplus(-2.0) if form == "standard" else -math.log(1 / (1 + math.exp(-(1 - -2.0))))
    term_3 = softplus(-3.0) + neg
    term_2 = softplus(-0.5) + neg
    covered_only = 0.75 * term_3 + 0.25 * term_2  # example 2 is not covered
    got = ranking_distillation_loss(
        scores, candidates, weights, negative, None, alpha=0.0, negative_form=form, covered=covered
    )
    assert got.item() == pytest.approx(covered_only, rel=1e-6)  # default: mean over covered rows
    batch = ranking_distillation_loss(
        scores,
        candidates,
        weights,
        negative,
        None,
        alpha=0.0,
        negative_form=form,
        covered=covered,
        average="batch",
    )
    assert batch.item() == pytest.approx(covered_only / 2, rel=1e-6)  # old: mean over B = 2


@pytest.mark.parametrize("alpha", [0.0, 0.7])
def test_coverage_normalised_loss_equals_covered_only_loss(alpha: float):
    """Averaged over covered rows, the loss of a mixed batch is the loss of its covered rows
    alone (computed independently on the sub-batch): lam means the same at any coverage."""
    g = torch.Generator().manual_seed(3)
    scores = torch.randn(16, 30, generator=g)
    candidates = torch.randint(0, 30, (16, 5), generator=g)
    weights = torch.softmax(torch.randn(16, 5, generator=g), dim=1)
    negative = torch.randint(0, 30, (16,), generator=g)
    covered = torch.rand(16, generator=g) < 0.25
    covered[0] = True
    ps = dros_propensity(torch.randint(0, 30, (100,), generator=g).numpy(), 30)
    mixed = ranking_distillation_loss(
        scores, candidates, weights, negative, ps, alpha=alpha, covered=covered
    )
    rows = covered.nonzero().squeeze(1)
    alone = ranking_distillation_loss(
        scores[rows], candidates[rows], weights[rows], negative[rows], ps, alpha=alpha
    )
    assert mixed.item() == pytest.approx(alone.item(), rel=1e-6)
    nobody = ranking_distillation_loss(
        scores, candidates, weights, negative, ps, alpha=alpha, covered=torch.zeros(16, dtype=bool)
    )
    assert nobody.item() == 0.0


def test_confidence_temperature_and_reference_form_by_hand():
    d = torch.tensor([[9.6, 15.5, 20.0]])
    for t in (1.0, 4.0):
        raw = [math.exp(-x / t) for x in (9.6, 15.5, 20.0)]
        expected = [r / sum(raw) for r in raw]
        assert confidence_weights(d, t).tolist()[0] == pytest.approx(expected, rel=1e-5)
    # reference: exp(-d) + 1e-8, normalised; at d = 20, exp(-20) = 2.06e-9 is below the 1e-8
    ref = [math.exp(-x) + 1e-8 for x in (9.6, 15.5, 20.0)]
    got = confidence_weights(d, 1.0, "reference").tolist()[0]
    assert got == pytest.approx([r / sum(ref) for r in ref], rel=1e-5)
    far = confidence_weights(torch.tensor([[30.0, 40.0]]), 1.0, "reference").tolist()[0]
    assert far == pytest.approx([0.5, 0.5], abs=1e-4)  # the reference turns uniform far away
    assert confidence_weights(torch.tensor([[30.0, 40.0]]), 1.0).tolist()[0][0] > 0.9999
    with pytest.raises(ValueError, match="temperature"):
        confidence_weights(d, 0.0)


def test_ranking_distillation_dros_by_hand():
    scores = torch.tensor([[1.0, -2.0, 0.5]])
    ps = torch.tensor([1.0, 1.0, 1.0])
    a = [1.0, 4.0, 0.25]
    got = ranking_distillation_loss(
        scores,
        torch.tensor([[2, 0]]),
        torch.tensor([[0.6, 0.4]]),
        torch.tensor([1]),
        ps,
        alpha=0.5,
        beta=1.0,
    )
    dros_2 = math.log(sum(math.exp(x) for x in a) - math.exp(0.25) + math.exp((0.5 - 1) ** 2))
    dros_0 = math.log(sum(math.exp(x) for x in a) - math.exp(1.0) + math.exp(0.0))
    term_2 = softplus(-0.5) + softplus(-2.0) + 0.5 * dros_2
    term_0 = softplus(-1.0) + softplus(-2.0) + 0.5 * dros_0
    assert got.item() == pytest.approx(0.6 * term_2 + 0.4 * term_0, rel=1e-6)

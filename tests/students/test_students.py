"""Students: one interface, padding handled, teacher fusion folds exactly, each can overfit."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from distillrec.distill import TeacherEmbeddingFusion, main_loss
from distillrec.students import STUDENTS, build_student
from distillrec.students.popularity import Popularity

TRAINABLE = ["gru4rec", "caser", "sasrec"]
N_ITEMS, L = 12, 5


def make(name: str, **kwargs):
    torch.manual_seed(0)
    return build_student(name, num_items=N_ITEMS, max_history=L, hidden_size=16, **kwargs)


def test_registry_lists_valid_names_on_error():
    assert set(TRAINABLE) <= set(STUDENTS)
    with pytest.raises(ValueError, match="valid names: caser, gru4rec, popularity, sasrec"):
        build_student("bert4rec", num_items=3, max_history=2)


@pytest.mark.parametrize("name", TRAINABLE)
def test_scores_shape_and_padding_invariance(name: str):
    model = make(name).eval()
    history = torch.tensor([[1, 2, 3, N_ITEMS, N_ITEMS], [4, 5, 6, 7, 8]])
    lengths = torch.tensor([3, 5])
    scores = model(history, lengths)
    assert scores.shape == (2, N_ITEMS)
    short = model(history[:1, :3], lengths[:1])  # fewer columns: right-padded inside
    assert torch.allclose(short, scores[:1], atol=1e-6)
    alone = model(history[:1], lengths[:1])  # batch composition does not matter
    assert torch.allclose(alone, scores[:1], atol=1e-6)
    with pytest.raises(ValueError, match="positions"):
        model(torch.zeros(1, L + 1, dtype=torch.long), torch.tensor([1]))


@pytest.mark.parametrize("name", TRAINABLE)
def test_teacher_fusion_changes_scores_and_folds_exactly(name: str):
    model = make(name).eval()
    history = torch.tensor([[1, 2, 3, N_ITEMS, N_ITEMS], [4, 5, 6, 7, 8]])
    lengths = torch.tensor([3, 5])
    plain = model(history, lengths)
    teacher = np.random.default_rng(0).standard_normal((N_ITEMS, 7)).astype(np.float32)
    model.attach_teacher_fusion(TeacherEmbeddingFusion(teacher, 16, ed_weight=0.5))
    fused = model(history, lengths)
    assert not torch.allclose(plain, fused)
    model.fold_teacher_fusion()
    assert model.teacher_fusion is None
    assert torch.allclose(model(history, lengths), fused, atol=1e-5)


def test_fusion_is_zero_on_padding_for_both_projections():
    teacher = np.ones((4, 3), dtype=np.float32)
    for projection in ("linear", "mlp"):
        fusion = TeacherEmbeddingFusion(teacher, 8, ed_weight=1.0, projection=projection)
        out = fusion(torch.tensor([[0, 4, 4]]))  # 4 is the padding id
        assert out[0, 1:].abs().sum() == 0 and out[0, 0].abs().sum() > 0
    with pytest.raises(ValueError, match="ed_projection"):
        TeacherEmbeddingFusion(teacher, 8, ed_weight=1.0, projection="conv")  # type: ignore[arg-type]


@pytest.mark.parametrize("name", TRAINABLE)
def test_each_student_overfits_a_tiny_dataset(name: str):
    """next item = last item + 1: after training, the target is ranked first on training data."""
    torch.manual_seed(0)
    model = build_student(name, num_items=N_ITEMS, max_history=L, hidden_size=32, dropout=0.0)
    starts = torch.arange(N_ITEMS)
    history = torch.stack([(starts + i) % N_ITEMS for i in range(L)], dim=1)  # [12, 5]
    target = (starts + L) % N_ITEMS
    lengths = torch.full((N_ITEMS,), L)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.02)
    gen = torch.Generator().manual_seed(0)
    for _ in range(150):
        negative = (target + torch.randint(1, N_ITEMS, target.shape, generator=gen)) % N_ITEMS
        loss = main_loss(model(history, lengths), target, negative, None, alpha=0.0)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    model.eval()
    top1 = model(history, lengths).argmax(dim=1)
    assert (top1 == target).float().mean() >= 0.9


def test_popularity_ranks_frequent_targets_first():
    model = Popularity(num_items=5, max_history=3).fit_counts(np.array([3, 3, 3, 1, 1, 4]))
    scores = model(torch.tensor([[0, 5, 5]]), torch.tensor([1]))
    assert scores.argsort(descending=True)[0, :3].tolist() == [3, 1, 4]
    assert not model.trainable

"""Beam decoding's merged ranking: each beam grounded, the rankings merged (``nearest`` /
``weighted``), checked against rankings written out by hand; the beams' JSON round trip; and the
Grounder actor's beam path with the real sentence embedder."""

from __future__ import annotations

import math

import numpy as np
import pytest


def brute_force_merged_order(queries, items, logprobs, merge, popularity=None, gamma=0.0):
    """Each example's item order, computed per beam and per item with plain Python."""
    orders = []
    for beams, lps in zip(queries, logprobs, strict=True):
        present = [b for b, lp in enumerate(lps) if math.isfinite(lp)]
        scaled = {b: [math.dist(beams[b], item) for item in items] for b in present}
        if merge == "nearest":
            merged = [min(scaled[b][i] for b in present) for i in range(len(items))]
        else:
            top = max(lps[b] for b in present)
            weight = {b: math.exp(lps[b] - top) for b in present}
            total = sum(weight.values())
            merged = [
                sum(weight[b] / total * scaled[b][i] for b in present) for i in range(len(items))
            ]
        if gamma > 0:
            low, high = min(merged), max(merged)
            merged = [
                (m - low) / (high - low) * (1 + p) ** -gamma
                for m, p in zip(merged, popularity, strict=True)
            ]
        orders.append(sorted(range(len(items)), key=lambda i: merged[i]))
    return orders


@pytest.mark.parametrize("merge", ["nearest", "weighted"])
@pytest.mark.parametrize("gamma", [0.0, 2.0])
def test_merged_beam_ranking_matches_a_hand_written_one(merge, gamma):
    from distillrec.teacher.grounding import ground

    rng = np.random.default_rng(7)
    items = rng.normal(size=(30, 4)).astype(np.float32)
    queries = rng.normal(size=(12, 3, 4)).astype(np.float32)
    logprobs = -rng.uniform(1, 6, size=(12, 3))
    logprobs[0, 2] = -np.inf  # an example the engine returned two beams for
    popularity = rng.uniform(size=30).astype(np.float32)
    ranked, dists = ground(queries, items, 10, popularity, gamma, logprobs, merge)
    expected = brute_force_merged_order(queries, items, logprobs, merge, popularity, gamma)
    assert ranked.tolist() == [order[:10] for order in expected]
    assert np.all(np.diff(dists, axis=1) >= 0)


def test_top_merge_is_the_best_beam_alone_and_differs_from_nearest():
    from distillrec.teacher.grounding import ground

    rng = np.random.default_rng(1)
    items = rng.normal(size=(25, 3)).astype(np.float32)
    queries = rng.normal(size=(20, 4, 3)).astype(np.float32)
    logprobs = np.tile([-1.0, -2.0, -3.0, -4.0], (20, 1))
    top, _ = ground(queries, items, 5, beam_logprobs=logprobs, merge="top")
    alone, _ = ground(queries[:, 0], items, 5)
    assert top.tolist() == alone.tolist()
    nearest, _ = ground(queries, items, 5, beam_logprobs=logprobs, merge="nearest")
    assert nearest.tolist() != top.tolist()  # the other beams do move the ranking


def test_a_missing_beam_never_wins_and_a_sure_beam_dominates_the_weighted_merge():
    from distillrec.teacher.grounding import beam_weights, ground

    items = np.eye(3, dtype=np.float32)
    # beam 0 sits on item 0; the absent beam 1 (embedded as padding) sits exactly on item 2
    queries = np.asarray([[[1, 0, 0], [0, 0, 1]]], dtype=np.float32)
    absent = np.asarray([[-1.0, -np.inf]])
    alone = ground(queries[:, :1], items, 3, beam_logprobs=absent[:, :1], merge="nearest")
    for merge in ("nearest", "weighted"):
        ranked, dists = ground(queries, items, 3, beam_logprobs=absent, merge=merge)
        assert ranked[0, 0] == 0 and dists.tolist() == alone[1].tolist()
    # both present: beam 1 a thousand times likelier -> the weighted merge follows it
    sure = np.asarray([[math.log(1e-3), 0.0]])
    weighted, _ = ground(queries, items, 3, beam_logprobs=sure, merge="weighted")
    assert weighted[0, 0] == 2
    np.testing.assert_allclose(beam_weights(sure), [[1e-3 / 1.001, 1 / 1.001]])
    with pytest.raises(ValueError, match="beam_logprobs"):
        ground(queries, items, 3, merge="nearest")


def test_beams_round_trip_through_json_with_padding():
    from distillrec.teacher.generation import decode_beams, encode_beams

    encoded = [
        encode_beams(['Heat (1995)"', "Heat"], [-1.5, -2.25]),
        encode_beams(["Fargo (1996)"], [-0.5]),
        "",  # greedy rows carry no beams
    ]
    texts, logprobs = decode_beams(encoded, 2)
    assert texts == [['Heat (1995)"', "Heat"], ["Fargo (1996)", ""], ["", ""]]
    assert logprobs[0].tolist() == [-1.5, -2.25] and logprobs[1, 0] == -0.5
    assert np.isneginf(logprobs[1, 1]) and np.isneginf(logprobs[2]).all()


def test_an_example_without_beams_falls_back_to_its_generation():
    """A batch mixing beam rows with beamless ones (or old files whose beams read as missing)
    never yields an all-absent row, whose ranking would be NaN."""
    from distillrec.teacher.generation import decode_beams, encode_beams
    from distillrec.teacher.grounding import ground

    encoded = [encode_beams(["Heat (1995)", "Babe (1995)"], [-1.0, -2.0]), "", None]
    texts, logprobs = decode_beams(encoded, 2, ["Heat (1995)", "Fargo (1996)", "Babe (1995)"])
    assert texts[1] == ["Fargo (1996)", ""] and texts[2] == ["Babe (1995)", ""]
    assert logprobs[1].tolist() == [0.0, -np.inf]
    rng = np.random.default_rng(0)
    queries, items = rng.normal(size=(3, 2, 4)), rng.normal(size=(9, 4))
    for merge in ("nearest", "weighted"):
        _, dists = ground(queries, items, 5, rng.uniform(size=9), 2.0, logprobs, merge)
        assert np.isfinite(dists).all()


def test_grounder_merges_embedded_beams_like_ground(ml100k):
    """The artifact path: a generated batch with beams, grounded by the Grounder with the
    sentence embedder, equals ``ground`` of the beams embedded independently."""
    from distillrec.data import load_prepared
    from distillrec.teacher.config import GroundingConfig, InferenceConfig
    from distillrec.teacher.generation import encode_beams
    from distillrec.teacher.grounding import Grounder, SentenceEmbedder, ground

    titles = load_prepared(ml100k).items["title"].tolist()[:200]
    grounding = GroundingConfig(embedder="sentence", beam_merge="nearest", topk=5)
    grounder = Grounder("unused", titles, grounding, InferenceConfig())
    beams = [["Toy Story (1995)", "GoldenEye (1995)"], ["Fargo (1996)", "Babe (1995)"]]
    logprobs = [[-1.0, -1.5], [-0.7, -3.0]]
    encoded = [encode_beams(b, lp) for b, lp in zip(beams, logprobs, strict=True)]
    batch = {
        "example_id": np.asarray([1, 2]),
        "generation": np.asarray([b[0] for b in beams], dtype=object),
        "beams": np.asarray(encoded, dtype=object),
    }
    out = grounder.ground(batch)
    embedder = SentenceEmbedder(grounding.sentence_model)
    queries = embedder.embed([t for row in beams for t in row]).reshape(2, 2, -1)
    items = embedder.embed(titles)
    expected, _ = ground(queries, items, 5, None, 0.0, np.asarray(logprobs), "nearest")
    assert [list(v) for v in out["items"]] == expected.tolist()
    # both beams' own titles are ranked: the merge reaches past the best beam
    index = {t: i for i, t in enumerate(titles)}
    assert {index["Toy Story (1995)"], index["GoldenEye (1995)"]} <= set(out["items"][0].tolist())

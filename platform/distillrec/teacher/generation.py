"""vLLM generation as a Ray Data callable class, and the grounding actor.

Ray Data creates ``concurrency`` replicas of :class:`VLLMGenerator` (each holding one
``vllm.LLM``, possibly tensor parallel) and streams prompt batches through them. Grounding runs in
one :class:`Grounder` actor that embeds all item titles once and then each generated batch.
"""

from __future__ import annotations

import resource
import time
from typing import Any

import numpy as np

from distillrec.teacher.config import GroundingConfig, InferenceConfig
from distillrec.teacher.engine_log import redirect_engine_output
from distillrec.teacher.prompts import clean_generation

_PEAK_RSS_MB = 0.0


def peak_rss_mb() -> float:
    """Peak (over calls) resident memory of this process and its children (the vLLM engine
    core and its workers), in MiB. Sampled when called, so it is a lower bound of the true peak."""
    global _PEAK_RSS_MB
    import psutil

    proc = psutil.Process()
    total = proc.memory_info().rss
    for child in proc.children(recursive=True):
        try:
            total += child.memory_info().rss
        except psutil.Error:
            continue
    own_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    _PEAK_RSS_MB = max(_PEAK_RSS_MB, total / 2**20, own_peak / 2**20)
    return _PEAK_RSS_MB


def kv_cache_bytes(inference: InferenceConfig) -> int | None:
    """An explicit KV-cache size (bytes) when configured; else vLLM sizes it from memory use."""
    if inference.kv_cache_memory_gib is None:
        return None
    return int(inference.kv_cache_memory_gib * 1024**3)


def build_llm(model_path: str, inference: InferenceConfig):
    """A generation ``vllm.LLM`` with the configured memory, context and caching settings."""
    from vllm import LLM

    return LLM(
        model=model_path,
        tensor_parallel_size=inference.tensor_parallel_size,
        max_model_len=inference.max_model_len,
        gpu_memory_utilization=inference.gpu_memory_utilization,
        kv_cache_memory_bytes=kv_cache_bytes(inference),
        enforce_eager=inference.enforce_eager,
        enable_prefix_caching=inference.enable_prefix_caching,
        block_size=inference.block_size,
        dtype=inference.dtype,
        seed=inference.seed,
    )


def generate_texts(llm: Any, prompts: list[str], inference: InferenceConfig) -> tuple[list, list]:
    """Greedy (default) or beam-search completions: ``(texts, generated token counts)``."""
    if inference.decoding == "beam":
        from vllm.sampling_params import BeamSearchParams

        params = BeamSearchParams(
            beam_width=inference.num_beams, max_tokens=inference.max_new_tokens
        )
        outputs = llm.beam_search([{"prompt": p} for p in prompts], params)
        tokenizer = llm.get_tokenizer()
        texts, counts = [], []
        for prompt, out in zip(prompts, outputs, strict=True):
            prompt_len = len(tokenizer(prompt)["input_ids"])
            new_tokens = out.sequences[0].tokens[prompt_len:]
            texts.append(tokenizer.decode(new_tokens, skip_special_tokens=True))
            counts.append(len(new_tokens))
        return texts, counts
    from vllm import SamplingParams

    params = SamplingParams(
        temperature=0.0,
        max_tokens=inference.max_new_tokens,
        stop=list(inference.stop) or None,
        seed=inference.seed,
    )
    outputs = llm.generate(prompts, params, use_tqdm=False)
    return [o.outputs[0].text for o in outputs], [len(o.outputs[0].token_ids) for o in outputs]


class VLLMGenerator:
    """Ray Data callable class: prompts in, generated titles (+ token counts, timings) out."""

    def __init__(self, model_path: str, inference: dict[str, Any]) -> None:
        redirect_engine_output("vLLM generation engine")
        self.inference = InferenceConfig.model_validate(inference)
        self.llm = build_llm(model_path, self.inference)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        started, start = time.time(), time.perf_counter()
        texts, counts = generate_texts(self.llm, list(batch["prompt"]), self.inference)
        seconds = time.perf_counter() - start
        n = len(texts)
        return {
            "example_id": np.asarray(batch["example_id"], dtype=np.int64),
            "generation": np.asarray(texts, dtype=object),
            "num_generated_tokens": np.asarray(counts, dtype=np.int64),
            "generate_seconds": np.full(n, seconds / max(n, 1)),
            # wall-clock bounds, so concurrent replicas' overlapping blocks are not counted twice
            "generate_started": np.full(n, started),
            "generate_finished": np.full(n, started + seconds),
            "worker_peak_rss_mb": np.full(n, peak_rss_mb()),
        }


class Grounder:
    """Holds the embedder and the item-title embeddings; grounds generated texts to top-K items."""

    def __init__(
        self,
        model_path: str,
        titles: list[str],
        grounding: dict[str, Any],
        inference: dict[str, Any],
        popularity: np.ndarray | None = None,
        item_embeddings: np.ndarray | None = None,
    ) -> None:
        from distillrec.teacher.grounding import make_embedder

        redirect_engine_output("grounding embedder")
        self.grounding = GroundingConfig.model_validate(grounding)
        self.stop = InferenceConfig.model_validate(inference).stop
        self.embedder = make_embedder(
            model_path, self.grounding, InferenceConfig.model_validate(inference)
        )
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

    def ground(self, batch: dict[str, np.ndarray]) -> dict[str, Any]:
        """Clean, embed and rank one generated batch: adds ``items`` and ``distances`` lists."""
        from distillrec.teacher.grounding import ground

        texts = [clean_generation(str(t), self.stop) for t in batch["generation"]]
        queries = self.embedder.embed(texts)
        items, dists = ground(
            queries,
            self.items,
            self.grounding.topk,
            self.popularity,
            self.grounding.popularity_gamma,
        )
        out = dict(batch)
        out["generation"] = np.asarray(texts, dtype=object)
        out["items"] = list(items)
        out["distances"] = list(dists)
        return out

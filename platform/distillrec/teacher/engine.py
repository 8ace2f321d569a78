"""The vLLM engines of the teacher, built from one place: generation and embedding share the
memory, context, eager-mode, dtype and seed settings of :class:`InferenceConfig`.

vLLM is imported inside the builders: it is heavy and only the Ray actors that hold an engine need
it (the driver, the CLI and the tests of the pure parts never do).
"""

from __future__ import annotations

import resource
from typing import Any, Literal

from distillrec.teacher.config import InferenceConfig

_PEAK_RSS_MB = 0.0


def kv_cache_bytes(inference: InferenceConfig) -> int | None:
    """An explicit KV-cache size (bytes) when configured; else vLLM sizes it from memory use."""
    if inference.kv_cache_memory_gib is None:
        return None
    return int(inference.kv_cache_memory_gib * 1024**3)


def engine_kwargs(inference: InferenceConfig) -> dict[str, Any]:
    """``vllm.LLM`` arguments every teacher engine shares (memory, context, eager, dtype, seed)."""
    return {
        "max_model_len": inference.max_model_len,
        "gpu_memory_utilization": inference.gpu_memory_utilization,
        "kv_cache_memory_bytes": kv_cache_bytes(inference),
        "enforce_eager": inference.enforce_eager,
        "dtype": inference.dtype,
        "seed": inference.seed,
    }


def generation_kwargs(inference: InferenceConfig) -> dict[str, Any]:
    """The generation engine's arguments: the shared ones plus parallelism and prefix caching."""
    return {
        **engine_kwargs(inference),
        "tensor_parallel_size": inference.tensor_parallel_size,
        "enable_prefix_caching": inference.enable_prefix_caching,
        "block_size": inference.block_size,
    }


def build_generation_llm(model_path: str, inference: InferenceConfig) -> Any:
    """A generation ``vllm.LLM`` with the configured memory, context and caching settings."""
    from vllm import LLM

    return LLM(model=model_path, **generation_kwargs(inference))


def build_embedding_llm(
    model_path: str, inference: InferenceConfig, pooling: Literal["last", "mean"]
) -> Any:
    """The teacher LLM as an embedder: vLLM's pooling runner, last-token or mean pooling of the
    last hidden layer, unnormalised (BIGRec's grounding)."""
    from vllm import LLM
    from vllm.config import PoolerConfig

    pooling_type = "LAST" if pooling == "last" else "MEAN"
    pooler = PoolerConfig(pooling_type=pooling_type, use_activation=False)
    return LLM(
        model=model_path,
        runner="pooling",
        convert="embed",
        pooler_config=pooler,
        **engine_kwargs(inference),
    )


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

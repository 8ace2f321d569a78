"""The vLLM engines of the teacher, built from one place: generation and embedding share the
memory, context, eager-mode, dtype and seed settings of :class:`InferenceConfig`.

vLLM is imported inside the builders: it is heavy and only the Ray actors that hold an engine need
it (the driver, the CLI and the tests of the pure parts never do).
"""

from __future__ import annotations

import resource
from pathlib import Path
from typing import Any, Literal

from distillrec.teacher.config import CPU_AUTO_DTYPE, InferenceConfig

_PEAK_RSS_MB = 0.0


def kv_cache_bytes(inference: InferenceConfig) -> int | None:
    """An explicit KV-cache size (bytes) when configured; else vLLM sizes it from memory use."""
    if inference.kv_cache_memory_gib is None:
        return None
    return int(inference.kv_cache_memory_gib * 1024**3)


BF16_CPU_FLAGS = ("amx_bf16", "avx512_bf16")


def cpu_has_bf16(cpuinfo: str = "/proc/cpuinfo") -> bool:
    """Whether this CPU advertises bfloat16 matrix units (``lscpu``'s ``amx_bf16`` or
    ``avx512_bf16`` flags). Without them bf16 is emulated and slower than fp32 (measured 6x on
    an AVX2 box)."""
    try:
        text = Path(cpuinfo).read_text()
    except OSError:
        return False
    flags = {
        flag for line in text.splitlines() if line.startswith("flags") for flag in line.split()
    }
    return any(flag in flags for flag in BF16_CPU_FLAGS)


def resolve_dtype(dtype: str) -> str:
    """``cpu-auto`` becomes ``bfloat16`` on CPUs with bf16 units, else ``float32``; any other
    value goes to vLLM unchanged."""
    if dtype != CPU_AUTO_DTYPE:
        return dtype
    return "bfloat16" if cpu_has_bf16() else "float32"


def engine_kwargs(inference: InferenceConfig) -> dict[str, Any]:
    """``vllm.LLM`` arguments every teacher engine shares (memory, context, eager, dtype, seed)."""
    return {
        "max_model_len": inference.max_model_len,
        "gpu_memory_utilization": inference.gpu_memory_utilization,
        "kv_cache_memory_bytes": kv_cache_bytes(inference),
        "enforce_eager": inference.enforce_eager,
        "dtype": resolve_dtype(inference.dtype),
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

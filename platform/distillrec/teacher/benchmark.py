"""Benchmark: our Ray Data + vLLM generation vs BIGRec's transformers ``generate`` loop.

Same model, same real prompts, same greedy decoding, stop strings and ``max_new_tokens``; BIGRec's
loop uses batches of 16 with left padding. Also BIGRec's default 4-beam search. Throughput is
measured while generating (model loading excluded on both sides); our end-to-end time including
the engine start is reported too.
"""

from __future__ import annotations

import time
from typing import Any

from distillrec.teacher.config import TeacherConfig


def hf_generate_rate(
    model_path: str, prompts: list[str], cfg: TeacherConfig, batch_size: int, num_beams: int
) -> dict[str, float]:
    """prompts/s of a plain transformers loop as in BIGRec's inference.py."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.set_num_threads(max(1, torch.get_num_threads()))
    tokenizer = AutoTokenizer.from_pretrained(model_path)
    tokenizer.padding_side = "left"
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    model = AutoModelForCausalLM.from_pretrained(model_path, dtype=torch.float32).eval()
    tokens, start = 0, time.perf_counter()
    for i in range(0, len(prompts), batch_size):
        enc = tokenizer(prompts[i : i + batch_size], return_tensors="pt", padding=True)
        with torch.no_grad():
            out = model.generate(
                **enc,
                do_sample=False,
                num_beams=num_beams,
                max_new_tokens=cfg.inference.max_new_tokens,
                stop_strings=list(cfg.inference.stop) or None,
                tokenizer=tokenizer,
                pad_token_id=tokenizer.pad_token_id,
            )
        tokens += int((out[:, enc["input_ids"].shape[1] :] != tokenizer.pad_token_id).sum())
    seconds = time.perf_counter() - start
    return {
        "prompts": len(prompts),
        "seconds": seconds,
        "prompts_per_s": len(prompts) / seconds,
        "generated_tokens_per_s": tokens / seconds,
    }


def prefill_ceiling(model_path: str, prompts: list[str]) -> dict[str, float]:
    """The compute bound of any engine here: prompts/s if this machine did nothing but the prompt
    forward passes (2 x non-embedding parameters FLOPs per prompt token) at the fp32 matmul rate
    torch reaches on it. Generation is prefill-bound for short titles, so an engine that computes
    every prompt token (the transformers loop) cannot beat ``prompts_per_s``; one that computes the
    prompts' shared head once (vLLM prefix caching) cannot beat ``prompts_per_s_prefix_reuse``."""
    import os

    import torch
    from transformers import AutoConfig, AutoTokenizer

    size, repeats = 2048, 8
    a, b = torch.randn(size, size), torch.randn(size, size)
    a @ b
    start = time.perf_counter()
    for _ in range(repeats):
        a @ b
    gflops = 2 * size**3 * repeats / (time.perf_counter() - start) / 1e9
    config = AutoConfig.from_pretrained(model_path)
    hidden, layers = config.hidden_size, config.num_hidden_layers
    kv = hidden * config.num_key_value_heads // config.num_attention_heads
    per_layer = 2 * hidden * hidden + 2 * hidden * kv + 3 * hidden * config.intermediate_size
    gflop_per_token = 2 * per_layer * layers / 1e9
    encoded = AutoTokenizer.from_pretrained(model_path)(prompts)["input_ids"]
    tokens = sum(len(ids) for ids in encoded)
    shared = len(os.path.commonprefix([list(ids) for ids in encoded]))
    computed_once = (tokens - shared * (len(prompts) - 1)) / len(prompts)
    gflop_per_prompt = gflop_per_token * tokens / len(prompts)
    return {
        "matmul_gflops": gflops,
        "mean_prompt_tokens": tokens / len(prompts),
        "shared_prefix_tokens": shared,
        "gflop_per_prompt": gflop_per_prompt,
        "prompts_per_s": gflops / gflop_per_prompt,
        "prompts_per_s_prefix_reuse": gflops / (gflop_per_token * computed_once),
    }


def pipeline_rate(cfg: TeacherConfig, data: Any, todo: Any, model_path: str) -> dict[str, float]:
    """prompts/s of our Ray Data + vLLM pipeline while generating (first block's start to last
    block's end over all replicas, engine start excluded as for the loop) and end-to-end."""
    from distillrec.runtime import ensure_ray
    from distillrec.teacher.inference import add_block, build_dataset, empty_stats
    from distillrec.teacher.manifest import generating_seconds

    ensure_ray()
    start = time.perf_counter()
    stats = empty_stats()
    ds = build_dataset(cfg, data, todo, model_path)
    for batch in ds.iter_batches(batch_size=None, batch_format="numpy"):
        add_block(stats, batch)
    wall = time.perf_counter() - start
    rows = stats["rows"]
    span = generating_seconds(stats)
    return {
        "prompts": rows,
        "seconds": span,
        "prompts_per_s": rows / span,
        "generated_tokens_per_s": stats["tokens"] / span,
        "end_to_end_seconds": wall,
        "end_to_end_prompts_per_s": rows / wall,
    }


def run_benchmark(
    cfg: TeacherConfig, num_prompts: int = 128, beam_prompts: int = 16, split: str = "val"
) -> dict[str, dict[str, float]]:
    """Run all three on the same real prompts and print a comparison with ratios."""
    from distillrec.data import load_prepared
    from distillrec.teacher.base_models import resolve_base_model
    from distillrec.teacher.prompts import PromptBuilder

    data = load_prepared(cfg.dataset)
    model_path = resolve_base_model(cfg.base_model)
    frame = data.split(split).sample(n=min(num_prompts, len(data.split(split))), random_state=0)
    prompts = PromptBuilder(cfg.prompt, data.items["title"].tolist()).prompts(frame["history"])
    results = {
        "transformers_greedy_b16": hf_generate_rate(model_path, prompts, cfg, 16, 1),
        "transformers_beam4_b16": hf_generate_rate(model_path, prompts[:beam_prompts], cfg, 16, 4),
        "ours_ray_data_vllm": pipeline_rate(cfg, data, frame, model_path),
    }
    ours = results["ours_ray_data_vllm"]["prompts_per_s"]
    ceiling = prefill_ceiling(model_path, prompts)
    for name, row in results.items():
        print(
            f"{name:26s} {row['prompts']:5d} prompts  {row['prompts_per_s']:8.2f} prompts/s  "
            f"{row['generated_tokens_per_s']:8.1f} tokens/s"
        )
    print(f"ours end-to-end incl. engine start: {ours_e2e(results):.2f} prompts/s")
    for name in ("transformers_greedy_b16", "transformers_beam4_b16"):
        print(f"speed-up vs {name}: {ours / results[name]['prompts_per_s']:.1f}x")
    greedy = results["transformers_greedy_b16"]["prompts_per_s"]
    print(
        f"prefill compute ceiling: {ceiling['prompts_per_s']:.2f} prompts/s "
        f"({ceiling['mean_prompt_tokens']:.0f} tokens x {ceiling['gflop_per_prompt']:.1f} "
        f"GFLOP per prompt at {ceiling['matmul_gflops']:.0f} GFLOPS fp32 matmul); "
        f"no engine that computes every prompt token can exceed "
        f"{ceiling['prompts_per_s'] / greedy:.1f}x the greedy loop here"
    )
    print(
        f"with the {ceiling['shared_prefix_tokens']} shared prompt-head tokens computed once "
        f"(prefix caching): {ceiling['prompts_per_s_prefix_reuse']:.2f} prompts/s, "
        f"{ceiling['prompts_per_s_prefix_reuse'] / greedy:.1f}x the loop; ours reaches "
        f"{ours / ceiling['prompts_per_s_prefix_reuse']:.0%} of it"
    )
    results["prefill_ceiling"] = ceiling
    return results


def ours_e2e(results: dict[str, dict[str, float]]) -> float:
    return results["ours_ray_data_vllm"]["end_to_end_prompts_per_s"]

"""Benchmark: our Ray Data + vLLM generation vs BIGRec's transformers ``generate`` loop.

Same model, same real prompts, same greedy decoding, stop strings and ``max_new_tokens``; BIGRec's
loop uses batches of 16 with left padding. Also BIGRec's default 4-beam search. Throughput is
measured while generating (model loading excluded on both sides); our end-to-end time including
the engine start is reported too.

Quality on the same rows: every engine's generations are grounded by one grounder (the config's
embedder, popularity adjustment and top-K, as ``teacher infer`` grounds) and scored with HR@20 and
NDCG@20 beside popularity and random on those rows, so a speed-up is never bought with quality.
The rows are chosen by seed as ``teacher evaluate --sample N --seed S`` chooses them.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pandas as pd

from distillrec.teacher.config import TeacherConfig
from distillrec.teacher.evaluation import rows_digest, sample_rows


def hf_generate_rate(
    model_path: str, prompts: list[str], cfg: TeacherConfig, batch_size: int, num_beams: int
) -> tuple[dict[str, float], list[str]]:
    """prompts/s of a plain transformers loop as in BIGRec's inference.py, and its generated
    texts (decoded after the clock stops)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.set_num_threads(max(1, torch.get_num_threads()))
    tokenizer = AutoTokenizer.from_pretrained(model_path)
    tokenizer.padding_side = "left"
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    model = AutoModelForCausalLM.from_pretrained(model_path, dtype=torch.float32).eval()
    tokens, start, generated = 0, time.perf_counter(), []
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
        new = out[:, enc["input_ids"].shape[1] :]
        tokens += int((new != tokenizer.pad_token_id).sum())
        generated.append(new)
    seconds = time.perf_counter() - start
    texts = [t for new in generated for t in tokenizer.batch_decode(new, skip_special_tokens=True)]
    rate = {
        "prompts": len(prompts),
        "seconds": seconds,
        "prompts_per_s": len(prompts) / seconds,
        "generated_tokens_per_s": tokens / seconds,
    }
    return rate, texts


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


def pipeline_rate(
    cfg: TeacherConfig, data: Any, todo: Any, model_path: str
) -> tuple[dict[str, float], dict[int, str]]:
    """prompts/s of our Ray Data + vLLM pipeline while generating (first block's start to last
    block's end over all replicas, engine start excluded as for the loop) and end-to-end, and
    its generated text per ``example_id``."""
    from distillrec.runtime import ensure_ray
    from distillrec.teacher.inference import add_block, build_dataset, empty_stats
    from distillrec.teacher.manifest import generating_seconds

    ensure_ray()
    start = time.perf_counter()
    stats = empty_stats()
    ds = build_dataset(cfg, data, todo, model_path)
    texts: dict[int, str] = {}
    for batch in ds.iter_batches(batch_size=None, batch_format="numpy"):
        add_block(stats, batch)
        texts.update(zip(map(int, batch["example_id"]), map(str, batch["generation"]), strict=True))
    wall = time.perf_counter() - start
    rows = stats["rows"]
    span = generating_seconds(stats)
    rate = {
        "prompts": rows,
        "seconds": span,
        "prompts_per_s": rows / span,
        "generated_tokens_per_s": stats["tokens"] / span,
        "end_to_end_seconds": wall,
        "end_to_end_prompts_per_s": rows / wall,
    }
    return rate, texts


def grounded_quality(
    cfg: TeacherConfig,
    data: Any,
    model_path: str,
    rows: pd.DataFrame,
    generations: dict[str, list[str]],
) -> dict[str, dict[str, float]]:
    """HR@20/NDCG@20 of each engine's generations on its rows (``rows`` in prompt order; an
    engine that generated for fewer prompts is scored on the first ones), all grounded by one
    :class:`~distillrec.teacher.grounding.Grounder` built as ``teacher infer`` builds it; and
    popularity and random on the same rows. ``identical_to_ours`` counts generations (cleaned as
    grounding cleans them) equal to ours on the same row."""
    import ray

    from distillrec.teacher.evaluation import evaluate_rankings
    from distillrec.teacher.inference import start_grounder
    from distillrec.teacher.prompts import clean_generation
    from distillrec.teacher.quality import CUTOFF, popularity_metrics, random_expectation

    grounder = start_grounder(cfg, data, model_path, None)
    ours = [clean_generation(t, cfg.inference.stop) for t in generations.get(OURS, [])]
    targets = data.train["next_item"].to_numpy()
    num_items = data.meta.num_items
    quality: dict[str, dict[str, float]] = {}
    try:
        for name, texts in generations.items():
            subset = rows.iloc[: len(texts)]
            ids = subset["example_id"].to_numpy(dtype=np.int64)
            batch = {"example_id": ids, "generation": np.asarray(texts, dtype=object)}
            grounded = ray.get(grounder.ground.remote(batch))
            rankings = pd.DataFrame({"example_id": ids, "items": list(grounded["items"])})
            teacher = evaluate_rankings(rankings, subset, cutoffs=(CUTOFF,)) or {}
            popular = popularity_metrics(targets, subset, num_items)
            cleaned = [clean_generation(t, cfg.inference.stop) for t in texts]
            quality[name] = {
                "rows": len(subset),
                "rows_sha256": rows_digest(ids),
                **{k: v for k, v in teacher.items() if k != "num_examples"},
                **{f"popularity {k}": v for k, v in popular.items()},
                "identical_to_ours": sum(a == b for a, b in zip(cleaned, ours, strict=False)),
            }
        quality["random"] = random_expectation(num_items)
    finally:
        ray.get(grounder.close.remote())
        ray.kill(grounder)
    return quality


OURS = "ours_ray_data_vllm"
GREEDY = "transformers_greedy_b16"
BEAM = "transformers_beam4_b16"
OURS_BEAM_ROWS = "ours_on_the_beam_rows"


def run_benchmark(
    cfg: TeacherConfig,
    num_prompts: int = 128,
    beam_prompts: int = 16,
    split: str = "val",
    seed: int = 0,
    quality: bool = True,
) -> dict[str, dict[str, Any]]:
    """Run all three on the same real prompts and print a comparison with ratios, then (unless
    ``quality`` is off) the quality of each on the same rows."""
    from distillrec.data import load_prepared
    from distillrec.teacher.base_models import resolve_base_model
    from distillrec.teacher.prompts import PromptBuilder, item_titles

    data = load_prepared(cfg.dataset)
    model_path = resolve_base_model(cfg.base_model)
    frame = sample_rows(data.split(split), num_prompts, seed)
    prompts = PromptBuilder(cfg.prompt, item_titles(data, cfg.prompt)).prompts(frame["history"])
    greedy, greedy_texts = hf_generate_rate(model_path, prompts, cfg, 16, 1)
    beam, beam_texts = hf_generate_rate(model_path, prompts[:beam_prompts], cfg, 16, 4)
    ours_rate, ours_texts = pipeline_rate(cfg, data, frame, model_path)
    results: dict[str, dict[str, Any]] = {GREEDY: greedy, BEAM: beam, OURS: ours_rate}
    ours = ours_rate["prompts_per_s"]
    ceiling = prefill_ceiling(model_path, prompts)
    print(
        f"{len(frame)} {split} rows chosen with seed {seed} (rows sha256 "
        f"{rows_digest(frame['example_id'])}); ours decodes {cfg.inference.decoding}"
    )
    for name, row in results.items():
        print(
            f"{name:26s} {row['prompts']:5d} prompts  {row['prompts_per_s']:8.2f} prompts/s  "
            f"{row['generated_tokens_per_s']:8.1f} tokens/s"
        )
    print(f"ours end-to-end incl. engine start: {ours_e2e(results):.2f} prompts/s")
    for name in (GREEDY, BEAM):
        print(f"speed-up vs {name}: {ours / results[name]['prompts_per_s']:.1f}x")
    greedy_rate = results[GREEDY]["prompts_per_s"]
    print(
        f"prefill compute ceiling: {ceiling['prompts_per_s']:.2f} prompts/s "
        f"({ceiling['mean_prompt_tokens']:.0f} tokens x {ceiling['gflop_per_prompt']:.1f} "
        f"GFLOP per prompt at {ceiling['matmul_gflops']:.0f} GFLOPS fp32 matmul); "
        f"no engine that computes every prompt token can exceed "
        f"{ceiling['prompts_per_s'] / greedy_rate:.1f}x the greedy loop here"
    )
    print(
        f"with the {ceiling['shared_prefix_tokens']} shared prompt-head tokens computed once "
        f"(prefix caching): {ceiling['prompts_per_s_prefix_reuse']:.2f} prompts/s, "
        f"{ceiling['prompts_per_s_prefix_reuse'] / greedy_rate:.1f}x the loop; ours reaches "
        f"{ours / ceiling['prompts_per_s_prefix_reuse']:.0%} of it"
    )
    results["prefill_ceiling"] = ceiling
    if quality:
        ordered = [ours_texts.get(int(i), "") for i in frame["example_id"]]
        generations = {
            OURS: ordered,
            GREEDY: greedy_texts,
            BEAM: beam_texts,
            OURS_BEAM_ROWS: ordered[: len(beam_texts)],
        }
        results["quality"] = grounded_quality(cfg, data, model_path, frame, generations)
        print_quality(cfg, results["quality"])
    return results


def print_quality(cfg: TeacherConfig, quality: dict[str, dict[str, float]]) -> None:
    """The quality table: each engine and popularity on the same rows, random's expectation."""
    g = cfg.grounding
    print(
        f"quality on the same rows, all grounded alike ({g.embedder} embedder, "
        f"popularity_gamma {g.popularity_gamma}, top-{g.topk}):"
    )
    print(f"{'':26s} {'rows':>5s}  {'HR@20':>7s}  {'NDCG@20':>7s}  same text as ours")
    groups: dict[str, list[str]] = {}
    for name in (OURS, GREEDY, BEAM, OURS_BEAM_ROWS):
        if name in quality:
            groups.setdefault(quality[name]["rows_sha256"], []).append(name)
    for names in groups.values():
        for name in names:
            q = quality[name]
            print(
                f"{name:26s} {q['rows']:5d}  {q['hr@20']:7.4f}  {q['ndcg@20']:7.4f}  "
                f"{q['identical_to_ours']}/{q['rows']}"
            )
        q = quality[names[0]]
        print(
            f"{'popularity (same rows)':26s} {q['rows']:5d}  {q['popularity hr@20']:7.4f}  "
            f"{q['popularity ndcg@20']:7.4f}"
        )
    r = quality["random"]
    print(f"{'random (expected)':26s} {'':5s}  {r['hr@20']:7.4f}  {r['ndcg@20']:7.4f}")


def ours_e2e(results: dict[str, dict[str, Any]]) -> float:
    return results[OURS]["end_to_end_prompts_per_s"]

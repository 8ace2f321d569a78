"""vLLM generation as a Ray Data callable class.

Ray Data creates ``concurrency`` replicas of :class:`VLLMGenerator` (each holding one
``vllm.LLM`` from :mod:`distillrec.teacher.engine`, possibly tensor parallel) and streams prompt
batches through them; grounding follows in :class:`distillrec.teacher.grounding.Grounder`.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from distillrec.teacher.config import InferenceConfig
from distillrec.teacher.engine import build_generation_llm, peak_rss_mb
from distillrec.teacher.engine_log import redirect_engine_output


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

    def __init__(self, model_path: str, inference: InferenceConfig) -> None:
        redirect_engine_output("vLLM generation engine")
        self.inference = inference
        self.llm = build_generation_llm(model_path, inference)

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

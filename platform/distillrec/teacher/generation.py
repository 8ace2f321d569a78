"""vLLM generation as a Ray Data callable class.

Ray Data creates ``concurrency`` replicas of :class:`VLLMGenerator` (each holding one
``vllm.LLM`` from :mod:`distillrec.teacher.engine`, possibly tensor parallel) and streams prompt
batches through them; grounding follows in :class:`distillrec.teacher.grounding.Grounder`.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from distillrec.teacher.config import InferenceConfig
from distillrec.teacher.engine import build_generation_llm, peak_rss_mb
from distillrec.teacher.engine_log import redirect_engine_output


@dataclass
class Decoded:
    """One batch's completions, in prompt order.

    ``beams`` holds, per prompt, ``encode_beams`` of every returned beam (best first) when
    decoding is beam, else ``""``: grounding may merge the beams' rankings
    (``grounding.beam_merge``), and a resumed run must find them in the stored generations."""

    texts: list[str]  # the best (or only) completion
    counts: list[int]  # its generated tokens
    beams: list[str]


def encode_beams(texts: list[str], logprobs: list[float]) -> str:
    """One example's beams as JSON: ``[[text, sequence log-probability], ...]``, best first."""
    return json.dumps([[t, float(lp)] for t, lp in zip(texts, logprobs, strict=True)])


def decode_beams(
    encoded: list[str], width: int | None = None, fallback: list[str] | None = None
) -> tuple[list[list[str]], np.ndarray]:
    """``(texts [n][width], logprobs [n, width])`` of encoded beams; ``width`` None = the widest
    example's beam count. An example with fewer beams is padded with ``""`` at log-probability
    ``-inf`` (weight 0, never nearest).

    An example without beams (``""``, or a missing value from files written before beams were
    kept) becomes the single beam ``fallback[row]`` (its generation) at log-probability 0, so
    every example keeps at least one real beam."""
    parsed = [json.loads(v) if isinstance(v, str) and v else [] for v in encoded]
    if width is None:
        width = max((len(beams) for beams in parsed), default=0) or 1
    texts, logprobs = [], np.full((len(encoded), width), -np.inf)
    for row, beams in enumerate(parsed):
        beams = beams[:width]
        if not beams and fallback is not None:
            beams = [[str(fallback[row]), 0.0]]
        texts.append([t for t, _ in beams] + [""] * (width - len(beams)))
        logprobs[row, : len(beams)] = [lp for _, lp in beams]
    return texts, logprobs


def generate_texts(llm: Any, prompts: list[str], inference: InferenceConfig) -> Decoded:
    """Greedy (default) or beam-search completions of ``prompts``."""
    if inference.decoding == "beam":
        from vllm.sampling_params import BeamSearchParams

        # vLLM's beam search has no stop strings: a beam ends at EOS (a `teacher finetune`
        # model emits it right after the closing quote) or at max_new_tokens
        params = BeamSearchParams(
            beam_width=inference.num_beams, max_tokens=inference.max_new_tokens
        )
        outputs = llm.beam_search([{"prompt": p} for p in prompts], params)
        tokenizer = llm.get_tokenizer()
        texts, counts, beams = [], [], []
        for prompt, out in zip(prompts, outputs, strict=True):
            prompt_len = len(tokenizer(prompt)["input_ids"])
            decoded = [
                tokenizer.decode(seq.tokens[prompt_len:], skip_special_tokens=True)
                for seq in out.sequences
            ]
            texts.append(decoded[0])
            counts.append(len(out.sequences[0].tokens) - prompt_len)
            beams.append(encode_beams(decoded, [seq.cum_logprob for seq in out.sequences]))
        return Decoded(texts, counts, beams)
    from vllm import SamplingParams

    params = SamplingParams(
        temperature=0.0,
        max_tokens=inference.max_new_tokens,
        stop=list(inference.stop) or None,
        seed=inference.seed,
    )
    outputs = llm.generate(prompts, params, use_tqdm=False)
    return Decoded(
        [o.outputs[0].text for o in outputs],
        [len(o.outputs[0].token_ids) for o in outputs],
        [""] * len(outputs),
    )


class VLLMGenerator:
    """Ray Data callable class: prompts in, generated titles (+ token counts, timings) out."""

    def __init__(self, model_path: str, inference: InferenceConfig) -> None:
        redirect_engine_output("vLLM generation engine")
        self.inference = inference
        self.llm = build_generation_llm(model_path, inference)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        started, start = time.time(), time.perf_counter()
        decoded = generate_texts(self.llm, list(batch["prompt"]), self.inference)
        seconds = time.perf_counter() - start
        n = len(decoded.texts)
        return {
            "example_id": np.asarray(batch["example_id"], dtype=np.int64),
            "generation": np.asarray(decoded.texts, dtype=object),
            "num_generated_tokens": np.asarray(decoded.counts, dtype=np.int64),
            "beams": np.asarray(decoded.beams, dtype=object),
            "generate_seconds": np.full(n, seconds / max(n, 1)),
            # wall-clock bounds, so concurrent replicas' overlapping blocks are not counted twice
            "generate_started": np.full(n, started),
            "generate_finished": np.full(n, started + seconds),
            "worker_peak_rss_mb": np.full(n, peak_rss_mb()),
        }

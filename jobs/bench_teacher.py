"""Benchmark teacher generation: ours (Ray Data + vLLM) vs BIGRec's transformers loop, one run.

`python jobs/bench_teacher.py -c configs/teacher/smollm2-135m.yaml [--prompts 128] [key=value ...]`
prints prompts/s of both (greedy, same prompts and max_new_tokens), BIGRec's 4-beam search,
and the ratios. Goal: >= 5x the transformers loop at equal decoding settings. Then the quality
of each on the same rows (HR@20/NDCG@20, every engine's text grounded by the config's grounding)
beside popularity on those rows. `-c` takes any teacher config, e.g. a chosen one
(`configs/teacher/smollm2-135m-best.yaml`): its model, prompt, decoding, engines and grounding.
"""

from __future__ import annotations

import argparse
import json

from distillrec.commands.teacher import DEFAULT_CONFIG
from distillrec.config import load_config
from distillrec.errors import exit_on_user_error
from distillrec.teacher.benchmark import run_benchmark
from distillrec.teacher.config import TeacherConfig


@exit_on_user_error
def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("-c", "--config", default=DEFAULT_CONFIG)
    parser.add_argument("--prompts", type=int, default=128, help="real prompts (greedy runs)")
    parser.add_argument("--beam-prompts", type=int, default=16, help="prompts for 4-beam run")
    parser.add_argument("--split", default="val", choices=["val", "test"], help="rows' split")
    parser.add_argument("--seed", type=int, default=0, help="seed that chooses the rows")
    parser.add_argument("--no-quality", action="store_true", help="skip grounding and quality")
    parser.add_argument("--json", default=None, help="also write the results here")
    parser.add_argument("overrides", nargs="*", help="key=value overrides")
    args = parser.parse_args(argv)
    cfg = load_config(TeacherConfig, args.config, args.overrides)
    results = run_benchmark(
        cfg,
        num_prompts=args.prompts,
        beam_prompts=args.beam_prompts,
        split=args.split,
        seed=args.seed,
        quality=not args.no_quality,
    )
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(results, handle, indent=2)


if __name__ == "__main__":
    main()

"""Epoch time of our vectorised DLLM2Rec trainer vs the reference's per-candidate loop:

    python jobs/bench_training.py --config configs/train/amazon-games-2018-sasrec.yaml \
        [--teacher DIR] [--batches 50] [key=value ...]

Same data, model, seed and batches for both; prints both times, the ratio and the largest loss
difference (goal: >= 5x, |diff| < 1e-5). Without --teacher, random top-K rankings are used.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from distillrec.errors import exit_on_user_error


@exit_on_user_error
def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Benchmark the distillation loss.")
    parser.add_argument("--config", type=Path, required=True, help="training YAML")
    parser.add_argument("--teacher", type=Path, default=None, help="teacher artifact folder")
    parser.add_argument("--batches", type=int, default=50, help="training steps timed per side")
    parser.add_argument("overrides", nargs="*", help="key=value overrides")
    args = parser.parse_args(argv)

    from distillrec.config import load_config
    from distillrec.training import TrainConfig
    from distillrec.training.bench import bench_training

    cfg = load_config(TrainConfig, args.config, args.overrides)
    r = bench_training(cfg, args.teacher, args.batches)
    scale = r.epoch_batches / r.batches
    print(f"{cfg.student} on {cfg.dataset}: {r.batches} of {r.epoch_batches} batches timed")
    print(
        f"ours (vectorised):      {r.ours_seconds:8.2f} s  (epoch ~{r.ours_seconds * scale:.1f} s)"
    )
    ref = r.reference_seconds
    print(f"reference (K loop):     {ref:8.2f} s  (epoch ~{ref * scale:.1f} s)")
    print(f"speed-up: {r.ratio:.2f}x   largest |loss difference|: {r.max_loss_diff:.2e}")


if __name__ == "__main__":
    main()

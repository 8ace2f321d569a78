"""`distillrec sweep` as a Ray job entrypoint (attaches to the cluster in RAY_ADDRESS).

ray job submit --working-dir . -- python jobs/sweep.py --config configs/sweeps/ml-100k.yaml
python jobs/sweep.py --config configs/sweeps/ml-100k-smoke.yaml [--resume] [--force] [epochs=2 ...]
"""

from __future__ import annotations

import argparse

from distillrec.errors import exit_on_user_error


@exit_on_user_error
def main() -> None:
    parser = argparse.ArgumentParser(description="Ray Tune sweep of students x distillation.")
    parser.add_argument("--config", required=True, help="sweep YAML (configs/sweeps/)")
    parser.add_argument("--resume", action="store_true", help="continue the latest sweep")
    parser.add_argument(
        "--force", action="store_true", help="best trial takes @champion even if not better"
    )
    parser.add_argument("overrides", nargs="*", help="key=value overrides, e.g. epochs=2")
    args = parser.parse_args()

    from distillrec.commands.sweep import summary_line
    from distillrec.sweep.config import load_sweep_config
    from distillrec.sweep.tuner import run_sweep

    cfg = load_sweep_config(args.config, args.overrides)
    results = run_sweep(cfg, resume=args.resume, force_champion=args.force)
    for result in results:
        print(summary_line(result))
    if any(r.interrupted for r in results):
        raise SystemExit(130)  # continue with --resume


if __name__ == "__main__":
    main()

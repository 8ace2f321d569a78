"""Wall time of the same sweep trials with 1 vs 2 concurrent trials; prints the speed-up.

    python jobs/bench_sweep.py [--config configs/sweeps/ml-100k.yaml] [--alone-cpus 1] [k=v ...]

By default the trials are the shipped ml-100k sweep's, cut to 4 (GRU4Rec and Caser, each with its
baseline and one DLLM2Rec trial) at the sweep's full epoch budget: real trial lengths, so the fixed
per-trial costs (worker start, data load, MLflow logging) weigh what they weigh in a real sweep.
Overrides replace that cut (list them all), e.g. to use the demo's teacher artifact:
``students=[gru4rec,caser] search.num_samples=1
datasets=[{name: ml-100k, path: data/ml-100k, teacher: artifacts/teacher/ml-100k}]``.
``--alone-cpus 2`` gives the lone trial both cores (2 torch threads) instead of one.
Goal: >= 1.7x on a 2-core machine.
"""

from __future__ import annotations

import argparse

from distillrec.errors import exit_on_user_error

DEFAULT_TRIALS = ("students=[gru4rec,caser]", "search.num_samples=1")


@exit_on_user_error
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="configs/sweeps/ml-100k.yaml")
    parser.add_argument("--alone-cpus", type=float, default=1.0)
    parser.add_argument("overrides", nargs="*", help="key=value sweep config overrides")
    args = parser.parse_args()

    from distillrec.sweep.bench import bench_concurrency
    from distillrec.sweep.config import load_sweep_config

    overrides = args.overrides or list(DEFAULT_TRIALS)
    cfg = load_sweep_config(args.config, overrides)
    result = bench_concurrency(cfg, alone_cpus=args.alone_cpus)
    print(
        f"{result['trials_1_concurrent']:.0f} trials (<= {cfg.epochs} epochs), "
        f"1 at a time ({args.alone_cpus:g} CPU): "
        f"{result['seconds_1_concurrent']:.1f} s; "
        f"2 at a time ({cfg.resources.cpus_per_trial:g} CPU each): "
        f"{result['seconds_2_concurrent']:.1f} s; speed-up {result['speedup']:.2f}x (goal 1.7x)"
    )


if __name__ == "__main__":
    main()

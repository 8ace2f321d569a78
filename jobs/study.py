"""`distillrec study` as a Ray job entrypoint (attaches to the cluster in RAY_ADDRESS):

    ray job submit --working-dir . -- python jobs/study.py --config configs/studies/ml-100k.yaml
    python jobs/study.py --config configs/studies/ml-100k-quick.yaml [--resume] [epochs=2 ...]

Same arguments and output as the command; exits 130 when interrupted (continue with --resume).
"""

from __future__ import annotations

from distillrec.commands.as_job import run_as_job
from distillrec.commands.study import study_command


def main(argv: list[str] | None = None) -> None:
    run_as_job(study_command, argv)


if __name__ == "__main__":
    main()

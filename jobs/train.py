"""Train one student as a Ray job (same arguments as ``distillrec train``):

    ray job submit --working-dir . -- python jobs/train.py \
        --config configs/train/ml-100k-sasrec.yaml [key=value ...] \
        [--teacher DIR] [--output-json PATH]
"""

from __future__ import annotations

from distillrec.commands.as_job import run_as_job
from distillrec.commands.train import train_command


def main(argv: list[str] | None = None) -> None:
    run_as_job(train_command, argv)


if __name__ == "__main__":
    main()

"""Train one student as a Ray job (same as ``distillrec train``):

    ray job submit --working-dir . -- python jobs/train.py \
        --config configs/train/ml-100k-sasrec.yaml [key=value ...] \
        [--teacher DIR] [--output-json PATH]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from distillrec.errors import exit_on_user_error


@exit_on_user_error
def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Train one student (Ray job entrypoint).")
    parser.add_argument("--config", type=Path, required=True, help="training YAML")
    parser.add_argument("--teacher", type=Path, default=None, help="teacher artifact folder")
    parser.add_argument("--output-json", type=Path, default=None, help="write the summary here")
    parser.add_argument("overrides", nargs="*", help="key=value overrides, e.g. distill.lam=0")
    args = parser.parse_args(argv)

    from distillrec.commands.train import train_command

    train_command(
        config=args.config,
        overrides=args.overrides,
        teacher=args.teacher,
        output_json=args.output_json,
    )


if __name__ == "__main__":
    main()

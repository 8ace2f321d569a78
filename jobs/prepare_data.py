"""Prepare a dataset as a Ray job (same as ``distillrec data prepare``), then read the train split
back through Ray Data:

    ray job submit --working-dir . -- python jobs/prepare_data.py ml-100k [--raw-dir D] [--out D]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from distillrec.errors import exit_on_user_error


@exit_on_user_error
def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Prepare a dataset (Ray job entrypoint).")
    parser.add_argument(
        "dataset", help="dataset name (configs/datasets/<name>.yaml) or a YAML path"
    )
    parser.add_argument("--raw-dir", type=Path, default=None, help="folder with the raw files")
    parser.add_argument(
        "--out", type=Path, default=None, help="output folder (default data/<name>)"
    )
    parser.add_argument("--data-root", type=Path, default=Path("data"), help="parent of outputs")
    args = parser.parse_args(argv)

    from distillrec.commands.data import run_prepare
    from distillrec.data import read_split_ray

    path = run_prepare(args.dataset, raw_dir=args.raw_dir, out=args.out, data_root=args.data_root)
    train = read_split_ray(path, "train")
    print(f"read back with Ray Data: {train.count()} train rows, columns {train.columns()}")


if __name__ == "__main__":
    main()

"""Prepare a dataset as a Ray job (same arguments as ``distillrec data prepare``), then read the
train split back through Ray Data:

    ray job submit --working-dir . -- python jobs/prepare_data.py ml-100k [--raw-dir D] [--out D]
"""

from __future__ import annotations

from distillrec.commands.as_job import run_as_job
from distillrec.commands.data import prepare_command
from distillrec.errors import exit_on_user_error


@exit_on_user_error
def main(argv: list[str] | None = None) -> None:
    path = run_as_job(prepare_command, argv)
    if path is None:  # --help
        return
    from distillrec.data import read_split_ray

    train = read_split_ray(path, "train")
    print(f"read back with Ray Data: {train.count()} train rows, columns {train.columns()}")


if __name__ == "__main__":
    main()

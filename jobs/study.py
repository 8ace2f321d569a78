"""`distillrec study` as a Ray job entrypoint (attaches to the cluster in RAY_ADDRESS); the
arguments are those of the CLI command (declared once, in distillrec.commands.study).

ray job submit --working-dir . -- python jobs/study.py --config configs/studies/ml-100k.yaml
python jobs/study.py --config configs/studies/ml-100k-quick.yaml [--resume] [epochs=2 ...]
"""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> None:
    from distillrec.cli import app

    app(["study", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    main()

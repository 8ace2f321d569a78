"""The teacher quality grid: `python jobs/teacher_tune.py -c CONFIG [k=v ...]`.

Same arguments as ``distillrec teacher tune``: generate every entry on the seeded val sample (or
reuse stored generations), ground every way, choose on val, score the choice once on test.
"""

from __future__ import annotations

from distillrec.commands.as_job import run_as_job
from distillrec.commands.teacher import tune_command


def main(argv: list[str] | None = None) -> None:
    run_as_job(tune_command, argv)


if __name__ == "__main__":
    main()

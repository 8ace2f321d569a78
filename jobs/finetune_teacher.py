"""LoRA fine-tuning of the teacher: `python jobs/finetune_teacher.py -c CONFIG [key=value ...]`.

Same arguments as ``distillrec teacher finetune``: load the teacher config, apply overrides, run
the library's fine-tuning (Ray Train).
"""

from __future__ import annotations

from distillrec.commands.as_job import run_as_job
from distillrec.commands.teacher import finetune_command


def main(argv: list[str] | None = None) -> None:
    run_as_job(finetune_command, argv)


if __name__ == "__main__":
    main()

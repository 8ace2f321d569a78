"""Teacher inference (Ray Data + vLLM): `python jobs/teacher_inference.py -c CONFIG [k=v ...]`.

Same arguments as ``distillrec teacher infer``: load the config, apply overrides, run (or resume)
inference, write the artifact.
"""

from __future__ import annotations

from distillrec.commands.as_job import run_as_job
from distillrec.commands.teacher import infer_command


def main(argv: list[str] | None = None) -> None:
    run_as_job(infer_command, argv)


if __name__ == "__main__":
    main()

"""LoRA fine-tuning of the teacher: `python jobs/finetune_teacher.py -c CONFIG [key=value ...]`.

Thin recipe: load the teacher config, apply overrides, run the library's fine-tuning.
"""

from __future__ import annotations

import argparse

from distillrec.config import load_config
from distillrec.errors import exit_on_user_error
from distillrec.teacher.config import TeacherConfig
from distillrec.teacher.finetune import run_finetune


@exit_on_user_error
def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("-c", "--config", default="configs/teacher/smollm2-135m.yaml")
    parser.add_argument("--out", default=None, help="merged model folder")
    parser.add_argument("overrides", nargs="*", help="key=value overrides")
    args = parser.parse_args(argv)
    cfg = load_config(TeacherConfig, args.config, args.overrides)
    run_finetune(cfg, out_dir=args.out)


if __name__ == "__main__":
    main()

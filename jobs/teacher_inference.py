"""Teacher inference (Ray Data + vLLM): `python jobs/teacher_inference.py -c CONFIG [k=v ...]`.

Thin recipe: load the config, apply overrides, run (or resume) inference, write the artifact.
"""

from __future__ import annotations

import argparse

from distillrec.config import load_config
from distillrec.errors import exit_on_user_error
from distillrec.teacher.config import TeacherConfig
from distillrec.teacher.inference import run_inference


@exit_on_user_error
def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("-c", "--config", default="configs/teacher/smollm2-135m.yaml")
    parser.add_argument("--out", default=None, help="artifact folder")
    parser.add_argument("--limit", type=int, default=None, help="at most N examples per split")
    parser.add_argument("--splits", default=None, help="comma list, e.g. train,val,test")
    parser.add_argument("--fresh", action="store_true", help="discard unfinished parts")
    parser.add_argument("overrides", nargs="*", help="key=value overrides")
    args = parser.parse_args(argv)
    cfg = load_config(TeacherConfig, args.config, args.overrides)
    splits = args.splits.split(",") if args.splits else None
    run_inference(cfg, out_dir=args.out, splits=splits, limit=args.limit, fresh=args.fresh)


if __name__ == "__main__":
    main()

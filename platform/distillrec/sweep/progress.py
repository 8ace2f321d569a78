"""The sweep's live table: per trial the student, the variant, the settings it really trains
with, and ``val_ndcg_20`` (what ASHA and the champion select on).

Ray Tune's newer console output infers its columns (the first four reported metrics, only the
sampled keys) and ignores a configured reporter, so the sweep uses Tune's ``CLIReporter`` with
explicit columns (``RAY_AIR_NEW_OUTPUT=0`` unless the user set it). Baseline trials carry their
real distillation weights (0) in their config (see ``space.baseline_points``), so the table shows
what each trial trains with.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import Any

from distillrec.distill.variants import NO_DISTILLATION, is_distillation_key
from distillrec.sweep.config import SweepConfig
from distillrec.sweep.space import VAL_METRIC

NEW_OUTPUT_ENV = "RAY_AIR_NEW_OUTPUT"
METRIC_COLUMNS = {
    VAL_METRIC: VAL_METRIC,
    "val_hr_20": "val_hr_20",
    "training_iteration": "epochs",
    "time_total_s": "seconds",
}
REPORT_EVERY_S = 10


@contextlib.contextmanager
def configured_table() -> Iterator[None]:
    """While a Tuner runs, let Tune use :func:`live_table` (its new output would ignore it);
    the environment is restored afterwards (Ray Train later in the process keeps its output)."""
    before = os.environ.get(NEW_OUTPUT_ENV)
    os.environ.setdefault(NEW_OUTPUT_ENV, "0")
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(NEW_OUTPUT_ENV, None)


def parameter_columns(cfg: SweepConfig, *, baselines: bool = False) -> dict[str, str]:
    """``student``, ``variant`` and every searched key, short names for ``distill.*``.

    ``baselines``: the re-run tuned baselines' table (``baseline_tuning: rerun_best``), whose
    trials carry the non-distillation keys and the zeroed weights of
    :data:`~distillrec.distill.variants.NO_DISTILLATION`, not the other distillation keys."""
    keys = [
        key
        for key in cfg.search_space
        if not baselines or not is_distillation_key(key) or key in NO_DISTILLATION
    ]
    columns = {"student": "student", "variant": "variant"}
    columns.update({key: key.removeprefix("distill.") for key in keys})
    return columns


def live_table(cfg: SweepConfig, *, baselines: bool = False) -> Any:
    """Tune's ``CLIReporter`` with the columns a researcher watches, best trials first."""
    from ray.tune import CLIReporter

    return CLIReporter(
        metric_columns=METRIC_COLUMNS,
        parameter_columns=parameter_columns(cfg, baselines=baselines),
        sort_by_metric=True,  # on the Tuner's metric and mode (set by Tune)
        # the table at every update, whatever verbosity an earlier Tuner of this process left
        # behind (Tune's default reads the global verbosity when the reporter is built)
        print_intermediate_tables=True,
        max_report_frequency=REPORT_EVERY_S,
        max_column_length=24,
    )

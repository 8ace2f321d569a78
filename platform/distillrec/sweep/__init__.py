"""Ray Tune sweeps over students, datasets and distillation settings, tracked in MLflow."""

from distillrec.sweep.config import SweepConfig, load_sweep_config

__all__ = ["SweepConfig", "load_sweep_config"]

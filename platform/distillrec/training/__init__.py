"""Training: the config, ``train()`` (shared by the CLI and Tune trials), metrics, packaging."""

from distillrec.training.config import TrainConfig
from distillrec.training.trainer import TrainResult, train

__all__ = ["TrainConfig", "TrainResult", "train"]

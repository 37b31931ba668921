"""Supervised training shared by every learned method: patch sampling, schedule, resumable trainer."""

from denoisebench.training.config import LOSSES, OPTIMIZERS, TrainConfig
from denoisebench.training.patches import PatchSampler, dihedral
from denoisebench.training.trainer import (
    MODEL_FILE,
    STATE_FILE,
    TrainResult,
    mse_loss_fn,
    psnr_validator,
    train_model,
)

__all__ = [
    "LOSSES",
    "MODEL_FILE",
    "OPTIMIZERS",
    "STATE_FILE",
    "PatchSampler",
    "TrainConfig",
    "TrainResult",
    "dihedral",
    "mse_loss_fn",
    "psnr_validator",
    "train_model",
]

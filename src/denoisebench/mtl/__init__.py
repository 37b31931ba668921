"""Multi-task training of seed 000 (Xiang, Tang & Zhou 2024): sub-task losses, loss weightings (strategy 1),
task switching (strategy 2) and the training-loop hook that combines them (:mod:`denoisebench.mtl.objective`)."""

from denoisebench.mtl.losses import TASK_LOSSES, kl_to_gaussian, ssim_index, ssim_loss
from denoisebench.mtl.switching import TaskSwitcher
from denoisebench.mtl.weighting import WEIGHTINGS, Weighting, build_weighting, min_norm_weights

__all__ = [
    "TASK_LOSSES",
    "WEIGHTINGS",
    "TaskSwitcher",
    "Weighting",
    "build_weighting",
    "kl_to_gaussian",
    "min_norm_weights",
    "ssim_index",
    "ssim_loss",
]

"""Training schedule (:class:`TrainConfig`), with the optimizer and loss registries it selects from."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

import torch
import torch.nn.functional as F

from denoisebench.errors import ConfigError
from denoisebench.validation import reject_unknown_keys
from denoisebench.registry import Registry

#: ``loss(prediction, target) -> scalar``. "mse" is the mean over all elements; "sse_half" is the DnCNN paper's
#: sum of squared errors over 2N (N patches), i.e. mse * C*P*P/2: with SGD divide the paper's lr by that factor
#: to use "mse" instead (Adam is insensitive to the scale).
LOSSES: Registry[Callable[[torch.Tensor, torch.Tensor], torch.Tensor]] = Registry("loss")
LOSSES.add("mse", F.mse_loss)
LOSSES.add("l1", F.l1_loss)
LOSSES.add("sse_half", lambda pred, target: (pred - target).float().pow(2).sum() / (2 * pred.shape[0]))

#: ``factory(parameters, config) -> optimizer``.
OPTIMIZERS: Registry[Callable[[Iterable[torch.nn.Parameter], "TrainConfig"], torch.optim.Optimizer]] = Registry(
    "optimizer"
)
OPTIMIZERS.add("adam", lambda ps, c: torch.optim.Adam(ps, lr=c.lr, betas=c.betas, weight_decay=c.weight_decay))
OPTIMIZERS.add("adamw", lambda ps, c: torch.optim.AdamW(ps, lr=c.lr, betas=c.betas, weight_decay=c.weight_decay))
OPTIMIZERS.add(
    "sgd", lambda ps, c: torch.optim.SGD(ps, lr=c.lr, momentum=c.momentum, weight_decay=c.weight_decay)
)

AMP_DTYPES = {"bfloat16": torch.bfloat16, "float16": torch.float16}

#: Fields that do not change the trained weights; they are left out of the resume hash, so a finished run can be
#: extended (more iterations), or resumed on another device or with other logging intervals.
RESULT_NEUTRAL = frozenset(
    {"iterations", "checkpoint_every", "log_every", "val_every", "device", "num_workers", "progress", "channels_last",
     "nproc"}
)


@dataclass
class TrainConfig:
    """Schedule and runtime options of the supervised trainer.

    Attributes:
        iterations: optimiser steps in total (a resumed run continues up to this number).
        batch_size: patches per step.
        patch_size: side of the square training patches.
        optimizer: a name of :data:`OPTIMIZERS` ("adam", "adamw", "sgd").
        lr: initial learning rate.
        momentum: SGD momentum.
        betas: Adam betas.
        weight_decay: L2 weight decay of the optimiser.
        milestones: iterations at which the lr is multiplied by ``gamma`` (MultiStepLR stepped per iteration).
        gamma: lr decay factor at each milestone.
        grad_clip: max L2 norm of all gradients together, or None for no clipping.
        loss: a name of :data:`LOSSES` ("mse", "sse_half", "l1").
        seed: seeds the data stream (patches, augmentation, noise) of every step.
        augment: random flips/rot90 (8 dihedral modes) of each patch.
        checkpoint_every: write ``state.pt`` every this many steps.
        log_every: log loss/lr/throughput every this many steps.
        val_every: run the validation callback every this many steps (0: never).
        device: "auto" (cuda when available), "cpu", "cuda", "cuda:1", ...
        amp: mixed precision (CUDA only; ignored on CPU).
        amp_dtype: "bfloat16" or "float16" (the latter uses a GradScaler).
        channels_last: channels-last memory format (CUDA only).
        num_workers: threads preparing batches ahead of the training step (0: inline).
        progress: show a tqdm bar (only when stderr is a terminal).
        nproc: data-parallel processes (DDP under ``torchrun``) the ``train`` stage launches; ``batch_size`` stays
            the effective batch, split evenly over them (env ``DENOISEBENCH_NPROC`` overrides it). Result-neutral:
            N processes follow the single-process run up to float rounding, and a run may resume with another N.
    """

    iterations: int = 1000
    batch_size: int = 16
    patch_size: int = 40
    optimizer: str = "adam"
    lr: float = 1e-3
    momentum: float = 0.9
    betas: tuple[float, float] = (0.9, 0.999)
    weight_decay: float = 0.0
    milestones: tuple[int, ...] = field(default_factory=tuple)
    gamma: float = 0.1
    grad_clip: float | None = None
    loss: str = "mse"
    seed: int = 0
    augment: bool = True
    checkpoint_every: int = 500
    log_every: int = 50
    val_every: int = 0
    device: str = "auto"
    amp: bool = False
    amp_dtype: str = "bfloat16"
    channels_last: bool = True
    num_workers: int = 0
    progress: bool = True
    nproc: int = 1

    def __post_init__(self) -> None:
        self.betas = tuple(self.betas)  # type: ignore[assignment]
        self.milestones = tuple(self.milestones)
        for name in ("iterations", "batch_size", "patch_size", "checkpoint_every", "log_every", "nproc"):
            _check_int(name, getattr(self, name), minimum=1)
        for name in ("seed", "val_every", "num_workers"):
            _check_int(name, getattr(self, name), minimum=0)
        for name in ("lr", "momentum", "weight_decay", "gamma"):
            _check_float(name, getattr(self, name))
        if self.lr <= 0 or not 0 < self.gamma <= 1 or self.momentum < 0 or self.weight_decay < 0:
            raise ConfigError(
                f"train config: need lr > 0, 0 < gamma <= 1, momentum >= 0, weight_decay >= 0; got lr={self.lr}, "
                f"gamma={self.gamma}, momentum={self.momentum}, weight_decay={self.weight_decay}"
            )
        if len(self.betas) != 2 or not all(isinstance(b, (int, float)) and 0 <= b < 1 for b in self.betas):
            raise ConfigError(f"train config: betas={list(self.betas)} must be two numbers in [0, 1)")
        for m in self.milestones:
            _check_int("milestones[]", m, minimum=1)
        if list(self.milestones) != sorted(set(self.milestones)):
            raise ConfigError(f"train config: milestones={list(self.milestones)} must be strictly increasing")
        if self.grad_clip is not None:
            _check_float("grad_clip", self.grad_clip)
            if self.grad_clip <= 0:
                raise ConfigError(f"train config: grad_clip={self.grad_clip} must be positive or null (no clipping)")
        for name, registry in (("optimizer", OPTIMIZERS), ("loss", LOSSES)):
            if getattr(self, name) not in registry:
                raise ConfigError(
                    f"train config: {name}={getattr(self, name)!r} is not one of {', '.join(registry.names())}"
                )
        if self.amp_dtype not in AMP_DTYPES:
            raise ConfigError(f"train config: amp_dtype={self.amp_dtype!r} is not one of {', '.join(AMP_DTYPES)}")
        for name in ("augment", "amp", "channels_last", "progress"):
            if not isinstance(getattr(self, name), bool):
                raise ConfigError(f"train config: {name}={getattr(self, name)!r} must be true or false")
        if not isinstance(self.device, str) or not (self.device in ("auto", "cpu") or self.device.startswith("cuda")):
            raise ConfigError(f"train config: device={self.device!r} must be 'auto', 'cpu', 'cuda' or 'cuda:N'")

    @classmethod
    def from_dict(cls, values: dict[str, Any] | None) -> "TrainConfig":
        """Build from a params mapping; unknown keys and bad values raise :class:`ConfigError`."""
        values = dict(values or {})
        reject_unknown_keys(cls, values)
        if values.get("milestones") is None:
            values.pop("milestones", None)
        try:
            return cls(**values)
        except TypeError as exc:  # e.g. a scalar where a list is expected
            raise ConfigError(f"train config: {exc}") from exc

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (lists for tuples), suitable for YAML/JSON/MLflow."""
        out = dataclasses.asdict(self)
        out["betas"], out["milestones"] = list(self.betas), list(self.milestones)
        return out

    def resolved_device(self) -> torch.device:
        """``device`` with "auto" resolved to cuda when available, else cpu."""
        if self.device == "auto":
            return torch.device("cuda" if torch.cuda.is_available() else "cpu")
        if self.device.startswith("cuda") and not torch.cuda.is_available():
            raise ConfigError(f"train config: device={self.device!r} but CUDA is not available; use 'auto' or 'cpu'")
        return torch.device(self.device)


def _check_int(name: str, value: Any, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(f"train config: {name}={value!r} must be an integer >= {minimum}")


def _check_float(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"train config: {name}={value!r} must be a number")

"""Shared pieces of the per-image (zero-shot) denoisers: tensors, padding, seeding, partial convolution, snapshots.

Every zero-shot method trains one network on the noisy test image itself inside ``Method.denoise``; the helpers
here keep those loops small and identical across methods (Blind2Grad, Self2Self, ZS-N2N).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from denoisebench.errors import ConfigError


def image_to_tensor(image: np.ndarray, device: str) -> torch.Tensor:
    """(H, W, C) float32 array -> (1, C, H, W) float32 tensor on ``device``."""
    arr = np.ascontiguousarray(np.asarray(image, dtype=np.float32).transpose(2, 0, 1))[None]
    return torch.from_numpy(arr).to(device)


def tensor_to_image(tensor: torch.Tensor) -> np.ndarray:
    """(1, C, H, W) tensor -> (H, W, C) float32 array."""
    return tensor.detach()[0].float().cpu().numpy().transpose(1, 2, 0).copy()


def pad_to_multiple(x: torch.Tensor, multiple: int) -> tuple[torch.Tensor, tuple[int, int]]:
    """Reflect-pad the bottom/right of ``x`` to a multiple of ``multiple``; return it and the original (H, W).

    Images smaller than the padding needs fall back to replicate padding (reflection needs pad < size).
    """
    h, w = x.shape[-2:]
    ph, pw = (-h) % multiple, (-w) % multiple
    if ph == 0 and pw == 0:
        return x, (h, w)
    mode = "reflect" if ph < h and pw < w else "replicate"
    return F.pad(x, (0, pw, 0, ph), mode=mode), (h, w)


def resolve_device(device: str | None) -> str:
    """``auto``/None -> cuda when available else cpu; anything else passes through."""
    if device in (None, "auto"):
        return "cuda" if torch.cuda.is_available() else "cpu"
    return str(device)


@contextlib.contextmanager
def seeded(seed: int) -> Iterator[torch.Generator]:
    """Seed torch's global RNG (weight init) inside a forked RNG state; yield a CPU generator for sampling.

    The caller's global RNG state is restored on exit, so denoising one image never perturbs the next.
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(seed) % (2**63))
        gen = torch.Generator().manual_seed(int(seed) % (2**63))
        yield gen


def check_positive_int(method: str, params: dict[str, Any], *keys: str, allow_zero: bool = False) -> None:
    """Raise ConfigError unless every ``params[key]`` is an int > 0 (>= 0 with ``allow_zero``)."""
    low = 0 if allow_zero else 1
    for key in keys:
        value = params[key]
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ConfigError(f"{method}: {key}={value!r} must be an integer >= {low}")


def check_fraction(method: str, params: dict[str, Any], *keys: str, closed: bool = False) -> None:
    """Raise ConfigError unless every ``params[key]`` is a number in (0, 1) ([0, 1] with ``closed``)."""
    for key in keys:
        value = params[key]
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        ok = ok and ((0.0 <= value <= 1.0) if closed else (0.0 < value < 1.0))
        if not ok:
            raise ConfigError(f"{method}: {key}={value!r} must be a number in {'[0, 1]' if closed else '(0, 1)'}")


class PartialConv2d(nn.Conv2d):
    """Partial convolution (Liu et al. 2018): convolve only the valid (mask = 1) inputs and renormalise.

    ``out = W * (x . m) * (k_h k_w C_in / sum(m over the window)) + b`` where the window holds valid inputs, else 0;
    the updated mask is 1 wherever the window held any valid input. ``mask`` has 1 or ``in_channels`` channels.
    """

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:  # type: ignore[override]
        mask = mask.expand(-1, x.shape[1], -1, -1) if mask.shape[1] == 1 else mask
        with torch.no_grad():
            ones = torch.ones(1, x.shape[1], *self.kernel_size, device=x.device, dtype=x.dtype)
            count = F.conv2d(mask, ones, stride=self.stride, padding=self.padding, dilation=self.dilation)
            valid = (count > 0).to(x.dtype)
            scale = (ones.numel() / count.clamp(min=1.0)) * valid
        raw = F.conv2d(x * mask, self.weight, None, self.stride, self.padding, self.dilation, self.groups)
        out = raw * scale
        if self.bias is not None:
            out = (out + self.bias.view(1, -1, 1, 1)) * valid
        return out, valid


@dataclass
class Snapshot:
    """The estimate after ``iterations`` training steps; ``train_seconds`` excludes earlier snapshots' cost."""

    iterations: int
    train_seconds: float
    predict_seconds: float
    image: np.ndarray


@dataclass
class SnapshotRecorder:
    """Records intermediate estimates at given iteration counts (the Fig. 7 PSNR-vs-time curve).

    ``context.extra["snapshot_at"] = [1000, 2000, ...]`` asks a zero-shot method for them; the method stores the
    list on its ``snapshots`` attribute. The clock excludes the time spent computing the snapshots themselves.
    ``context.extra["snapshot_callback"]`` (optional) is called with each :class:`Snapshot` as soon as it is taken
    (progress logging of long runs; an exception it raises ends the run). ``context.extra["step_callback"]``
    (optional) is called with the step number after every training step (the CLI's progress bar).
    """

    at: Sequence[int] = ()
    callback: Callable[[Snapshot], None] | None = None
    on_step: Callable[[int], None] | None = None
    snapshots: list[Snapshot] = field(default_factory=list)
    _start: float = field(default_factory=time.perf_counter)
    _excluded: float = 0.0

    def maybe(self, iteration: int, predict: Callable[[], np.ndarray]) -> None:
        """Call after finishing training step number ``iteration`` (1-based)."""
        if self.on_step is not None:
            self.on_step(iteration)
        if iteration not in {int(i) for i in self.at}:
            return
        train_seconds = time.perf_counter() - self._start - self._excluded
        t0 = time.perf_counter()
        image = predict()
        spent = time.perf_counter() - t0
        self._excluded += spent
        self.snapshots.append(Snapshot(iteration, train_seconds, spent, image))
        if self.callback is not None:
            self.callback(self.snapshots[-1])


def snapshot_points(context_extra: dict[str, Any]) -> list[int]:
    """The ``snapshot_at`` iteration counts asked for in ``DenoiseContext.extra`` (empty when absent)."""
    points = context_extra.get("snapshot_at") or []
    if not all(isinstance(p, int) and not isinstance(p, bool) and p > 0 for p in points):
        raise ConfigError(f"snapshot_at={points!r} must be a list of positive integers")
    return sorted(set(points))


@dataclass
class ZeroShotInput:
    """A noisy image as a zero-shot method trains on it.

    Attributes:
        image: the checked (H, W, C) float32 image.
        tensor: (1, C, H', W') on the device, reflect-padded to the method's size multiple (not padded for 1).
        size: the original (H, W): outputs are cropped back with ``[..., :h, :w]``.
        recorder: collects the intermediate estimates ``context.extra["snapshot_at"]`` asks for (Fig. 7).
    """

    image: np.ndarray
    tensor: torch.Tensor
    size: tuple[int, int]
    recorder: SnapshotRecorder


def prepare_input(method: str, noisy: np.ndarray, device: str | None, context_extra: dict[str, Any],
                  multiple: int = 1) -> ZeroShotInput:
    """Check ``noisy``, move it to the resolved device, pad it to ``multiple`` and start the snapshot clock."""
    from denoisebench.methods._config import check_image

    image = check_image(method, noisy)
    tensor, size = pad_to_multiple(image_to_tensor(image, resolve_device(device)), multiple)
    callback = context_extra.get("snapshot_callback")
    if callback is not None and not callable(callback):
        raise ConfigError(f"snapshot_callback={callback!r} must be callable (it receives each Snapshot)")
    return ZeroShotInput(image, tensor, size, SnapshotRecorder(snapshot_points(context_extra), callback,
                                                               context_extra.get("step_callback")))


def publish_run(method: Any, context_extra: dict[str, Any], recorder: SnapshotRecorder, info: dict[str, Any]) -> None:
    """Store a finished per-image run on the method (``last_info``, ``snapshots``) and in
    ``context.extra["zeroshot"]``, where the predict step reads iterations and training time."""
    method.snapshots = recorder.snapshots
    method.last_info = dict(info)
    context_extra["zeroshot"] = dict(info)

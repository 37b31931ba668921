"""Blind-spot masks for single-image self-supervised denoising (Blind2Grad section 3.1 and its ablation).

A mask sampler turns the noisy image ``y`` (1, C, H, W) into a :class:`MaskSample`:
- ``keep``: 1 where the pixel is visible to the network, 0 where it is masked (the loss lives on the zeros);
  one channel (``granularity="pixel"``: all colours of a pixel masked together) or C channels (``"element"``).
- ``inputs``: what the network sees (``keep * y`` for Bernoulli/dual masks; neighbour substitution for UPS).
- ``conv_mask``: the validity mask for the first (partial) convolution (``keep``, or ones for UPS).

Samplers (registry :data:`MASKS`):
- ``bernoulli``: every pixel masked independently with probability ``rate`` (0.25 in Blind2Grad, 0.3 in Self2Self).
- ``dual``: Blind2Grad's dual mask. With no previous estimate it is the Bernoulli mask (cycle 1). Given the previous
  cycle's estimate ``x``, the per-pixel Euclidean distance ``d_i = max_c |y_ci - x_ci|`` (0-255 units; eq. 3.1)
  splits detail pixels (``d_i >= eps_g``, 40) from flat ones. Detail pixels are masked with the lower probability
  ``p_detail`` (0.10) so that their values are retained; flat pixels with ``p_flat`` solved so that the expected
  overall rate stays ``rate`` (capped at ``p_flat_max`` = 0.5) -- the reading of the garbled eqs. 3.2-3.3 chosen in
  method-specs section 6(c).
- ``uniform``: uniform pixel selection (N2V/N2S, the "UM" ablation): masked pixels are replaced by a random
  neighbour from the 5x5 window (centre excluded) instead of zero, and the network sees every pixel as valid.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass
from typing import Any

import torch

from denoisebench.errors import ConfigError
from denoisebench.registry import Registry

GRANULARITIES = ("pixel", "element")


@dataclass
class MaskSample:
    """One sampled blind-spot mask (see the module docstring)."""

    keep: torch.Tensor
    inputs: torch.Tensor
    conv_mask: torch.Tensor

    @property
    def masked(self) -> torch.Tensor:
        """1 where the loss is evaluated (masked positions), broadcastable to the image."""
        return 1.0 - self.keep


class MaskSampler(abc.ABC):
    """Base class: ``rate`` is the masking probability, ``granularity`` pixel or element."""

    def __init__(self, rate: float = 0.25, granularity: str = "pixel") -> None:
        if not isinstance(rate, (int, float)) or isinstance(rate, bool) or not 0.0 < rate < 1.0:
            raise ConfigError(f"mask rate={rate!r} must be a number in (0, 1)")
        if granularity not in GRANULARITIES:
            raise ConfigError(f"mask granularity={granularity!r} must be one of {', '.join(GRANULARITIES)}")
        self.rate = float(rate)
        self.granularity = granularity

    def _shape(self, y: torch.Tensor) -> tuple[int, int, int, int]:
        n, c, h, w = y.shape
        return (n, 1 if self.granularity == "pixel" else c, h, w)

    def _bernoulli_keep(self, y: torch.Tensor, prob_masked: torch.Tensor | float,
                        generator: torch.Generator | None) -> torch.Tensor:
        u = torch.rand(self._shape(y), generator=generator).to(y.device)
        return (u >= prob_masked).to(y.dtype)

    @abc.abstractmethod
    def sample(self, y: torch.Tensor, generator: torch.Generator | None = None,
               estimate: torch.Tensor | None = None) -> MaskSample:
        """Draw one mask for ``y``; ``estimate`` is the previous cycle's denoised image (dual mask only)."""


MASKS: Registry[type[MaskSampler]] = Registry("mask")


@MASKS.register("bernoulli")
class BernoulliMask(MaskSampler):
    """Independent Bernoulli masking with probability ``rate``."""

    def sample(self, y: torch.Tensor, generator: torch.Generator | None = None,
               estimate: torch.Tensor | None = None) -> MaskSample:
        keep = self._bernoulli_keep(y, self.rate, generator)
        return MaskSample(keep, y * keep, keep)


def euclidean_distance_map(y: torch.Tensor, estimate: torch.Tensor) -> torch.Tensor:
    """Per-pixel distance ``max_c sqrt((y - x)^2)`` in 0-255 units for [0, 1] images, shape (N, 1, H, W)."""
    return ((y - estimate).abs() * 255.0).amax(dim=1, keepdim=True)


@MASKS.register("dual")
class DualMask(MaskSampler):
    """Blind2Grad's dual mask (Bernoulli layer + Euclidean-distance conditional layer).

    Args:
        rate: overall masking probability (0.25).
        eps_g: detail threshold on the 0-255 distance between the noisy image and the previous estimate (40).
        p_detail: masking probability of detail pixels (0.10).
        p_flat_max: cap of the flat-pixel probability (0.5).
    """

    def __init__(self, rate: float = 0.25, granularity: str = "pixel", eps_g: float = 40.0,
                 p_detail: float = 0.10, p_flat_max: float = 0.5) -> None:
        super().__init__(rate, granularity)
        if not 0.0 <= p_detail <= self.rate:
            raise ConfigError(f"dual mask: p_detail={p_detail!r} must lie in [0, rate={self.rate}]")
        if not self.rate <= p_flat_max < 1.0:
            raise ConfigError(f"dual mask: p_flat_max={p_flat_max!r} must lie in [rate={self.rate}, 1)")
        if not isinstance(eps_g, (int, float)) or isinstance(eps_g, bool) or eps_g < 0:
            raise ConfigError(f"dual mask: eps_g={eps_g!r} must be a number >= 0 (0-255 units)")
        self.eps_g, self.p_detail, self.p_flat_max = float(eps_g), float(p_detail), float(p_flat_max)
        self.last_detail_fraction: float | None = None

    def probabilities(self, y: torch.Tensor, estimate: torch.Tensor) -> torch.Tensor:
        """Per-pixel masking probability map (N, 1, H, W) from the previous estimate."""
        detail = (euclidean_distance_map(y, estimate) >= self.eps_g).to(y.dtype)
        frac = float(detail.mean())
        self.last_detail_fraction = frac
        if frac >= 1.0:
            p_flat = self.rate
        else:
            p_flat = min(max((self.rate - self.p_detail * frac) / (1.0 - frac), 0.0), self.p_flat_max)
        return detail * self.p_detail + (1.0 - detail) * p_flat

    def sample(self, y: torch.Tensor, generator: torch.Generator | None = None,
               estimate: torch.Tensor | None = None) -> MaskSample:
        if estimate is None:
            keep = self._bernoulli_keep(y, self.rate, generator)
        else:
            keep = self._bernoulli_keep(y, self.probabilities(y, estimate), generator)
        return MaskSample(keep, y * keep, keep)


@MASKS.register("uniform")
class UniformPixelMask(MaskSampler):
    """Uniform pixel selection: masked pixels take the value of a random neighbour (``radius`` 2, centre excluded)."""

    def __init__(self, rate: float = 0.25, granularity: str = "pixel", radius: int = 2) -> None:
        super().__init__(rate, granularity)
        if isinstance(radius, bool) or not isinstance(radius, int) or radius < 1:
            raise ConfigError(f"uniform mask: radius={radius!r} must be an integer >= 1")
        self.radius = radius

    def sample(self, y: torch.Tensor, generator: torch.Generator | None = None,
               estimate: torch.Tensor | None = None) -> MaskSample:
        n, c, h, w = y.shape
        keep = self._bernoulli_keep(y, self.rate, generator)
        side = 2 * self.radius + 1
        # a random non-zero offset per pixel: draw from side*side - 1 choices and skip the centre index
        idx = torch.randint(0, side * side - 1, (n, 1, h, w), generator=generator)
        idx = idx + (idx >= (side * side) // 2).long()
        dy, dx = idx // side - self.radius, idx % side - self.radius
        rows = (torch.arange(h).view(1, 1, h, 1) + dy).abs()
        cols = (torch.arange(w).view(1, 1, 1, w) + dx).abs()
        rows = torch.where(rows > h - 1, 2 * (h - 1) - rows, rows).clamp(0, h - 1)  # reflect at the far border
        cols = torch.where(cols > w - 1, 2 * (w - 1) - cols, cols).clamp(0, w - 1)
        flat = (rows * w + cols).view(n, 1, h * w).to(y.device).expand(n, c, h * w)
        neighbour = torch.gather(y.reshape(n, c, h * w), 2, flat).view(n, c, h, w)
        inputs = keep * y + (1.0 - keep) * neighbour
        return MaskSample(keep, inputs, torch.ones_like(keep))


def build_mask(name: str, **kwargs: Any) -> MaskSampler:
    """The registered mask sampler ``name`` (bernoulli, dual, uniform) with its keyword options."""
    return MASKS.get(name)(**kwargs)

"""Blind-spot masks for single-image self-supervised denoising (Blind2Grad section 3.1 and its ablation).

A mask sampler turns the noisy image ``y`` (1, C, H, W) into a :class:`MaskSample`:
- ``keep``: 1 where the pixel is visible to the network, 0 where it is masked (the loss lives on the zeros);
  one channel (``granularity="pixel"``: all colours of a pixel masked together) or C channels (``"element"``).
- ``inputs``: what the network sees (``keep * y`` for Bernoulli/dual masks; neighbour substitution for UPS).
- ``conv_mask``: the validity mask for the first (partial) convolution (``keep``, or ones for UPS).

Samplers (registry :data:`MASKS`):
- ``bernoulli``: every pixel masked independently with probability ``rate`` (0.25 in Blind2Grad, 0.3 in Self2Self).
- ``dual``: Blind2Grad's dual mask. With no previous estimate it is the Bernoulli mask (cycle 1). Given the previous
  cycle's estimate ``x``, the distance ``d_i = max_c sqrt(mean_{k x k window} (y_c - x_c)^2)`` (0-255 units; eq. 3.1
  with the squared residual averaged over a ``detail_window`` k x k neighbourhood) splits detail pixels
  (``d_i >= eps_g * sigma_hat / eps_g_sigma_ref``: 40 at the reference noise level 25) from flat ones; ``sigma_hat``
  is a blind noise estimate of ``y`` (:func:`estimate_noise_sigma`). Detail pixels are masked with the lower
  probability ``p_detail`` (0.10) so that their values are retained; flat pixels with ``p_flat`` solved so that the
  expected overall rate stays ``rate`` (capped at ``p_flat_max`` = 0.5) -- the reading of the garbled eqs. 3.2-3.3
  chosen in method-specs section 6(c). ``detail_window=1, eps_g_sigma_ref=None`` is the paper's literal per-pixel
  rule ``max_c |y_c - x_c| >= 40``, whose "detail" map is mostly noise at sigma >= 25 (|n| >= 40 on 29 % of the
  pixels at sigma 25 and 81 % at sigma 50, where the cap then lowers the overall rate to about 18 %).
- ``uniform``: uniform pixel selection (N2V/N2S, the "UM" ablation): masked pixels are replaced by a random
  neighbour from the 5x5 window (centre excluded) instead of zero, and the network sees every pixel as valid.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

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


def euclidean_distance_map(y: torch.Tensor, estimate: torch.Tensor, window: int = 1) -> torch.Tensor:
    """Distance ``max_c sqrt(mean_window (y - x)^2)`` in 0-255 units for [0, 1] images, shape (N, 1, H, W).

    ``window`` 1 is the per-pixel ``max_c |y - x|`` of eq. 3.1; an odd ``window`` k > 1 averages the squared
    residual over the k x k neighbourhood (reflected at the border), so that single noise values do not count as
    detail while residual structure the estimate has lost (edges, texture) still does.
    """
    sq = ((y - estimate) * 255.0) ** 2
    if window > 1:
        r = window // 2
        sq = F.avg_pool2d(F.pad(sq, (r, r, r, r), mode="reflect"), window, stride=1)
    return sq.sqrt().amax(dim=1, keepdim=True)


def estimate_noise_sigma(y: torch.Tensor) -> float:
    """Blind noise standard deviation of ``y`` in 0-255 units: the median absolute deviation of the finest diagonal
    Haar coefficients ``(a - b - c + d) / 2`` over all channels, x 1.4826 (exact for i.i.d. Gaussian noise on a
    locally smooth image; image texture raises it slightly)."""
    h, w = y.shape[-2] // 2 * 2, y.shape[-1] // 2 * 2
    if h == 0 or w == 0:
        raise ConfigError(f"noise estimate needs an image of at least 2 x 2 pixels, got {tuple(y.shape[-2:])}")
    v = y[..., :h, :w] * 255.0
    hh = (v[..., 0::2, 0::2] - v[..., 1::2, 0::2] - v[..., 0::2, 1::2] + v[..., 1::2, 1::2]) / 2.0
    return float(1.4826 * hh.abs().median())


@MASKS.register("dual")
class DualMask(MaskSampler):
    """Blind2Grad's dual mask (Bernoulli layer + Euclidean-distance conditional layer).

    Args:
        rate: overall masking probability (0.25).
        eps_g: detail threshold on the 0-255 distance between the noisy image and the previous estimate (40).
        p_detail: masking probability of detail pixels (0.10).
        p_flat_max: cap of the flat-pixel probability (0.5).
        detail_window: odd side of the window over which the squared residual is averaged (3; 1: per pixel).
        eps_g_sigma_ref: noise level (0-255) at which ``eps_g`` applies as given; the threshold is
            ``eps_g * sigma_hat / eps_g_sigma_ref`` (25). None: ``eps_g`` at every noise level (the paper's literal rule).
    """

    def __init__(self, rate: float = 0.25, granularity: str = "pixel", eps_g: float = 40.0,
                 p_detail: float = 0.10, p_flat_max: float = 0.5, detail_window: int = 3,
                 eps_g_sigma_ref: float | None = 25.0) -> None:
        super().__init__(rate, granularity)
        if not 0.0 <= p_detail <= self.rate:
            raise ConfigError(f"dual mask: p_detail={p_detail!r} must lie in [0, rate={self.rate}]")
        if not self.rate <= p_flat_max < 1.0:
            raise ConfigError(f"dual mask: p_flat_max={p_flat_max!r} must lie in [rate={self.rate}, 1)")
        if not isinstance(eps_g, (int, float)) or isinstance(eps_g, bool) or eps_g < 0:
            raise ConfigError(f"dual mask: eps_g={eps_g!r} must be a number >= 0 (0-255 units)")
        if isinstance(detail_window, bool) or not isinstance(detail_window, int) or detail_window < 1 \
                or detail_window % 2 == 0:
            raise ConfigError(f"dual mask: detail_window={detail_window!r} must be an odd integer >= 1 (1: per pixel)")
        if eps_g_sigma_ref is not None and (isinstance(eps_g_sigma_ref, bool)
                                            or not isinstance(eps_g_sigma_ref, (int, float)) or eps_g_sigma_ref <= 0):
            raise ConfigError(f"dual mask: eps_g_sigma_ref={eps_g_sigma_ref!r} must be a number > 0 (0-255 units) "
                              "or null (a fixed eps_g)")
        self.eps_g, self.p_detail, self.p_flat_max = float(eps_g), float(p_detail), float(p_flat_max)
        self.detail_window = detail_window
        self.eps_g_sigma_ref = None if eps_g_sigma_ref is None else float(eps_g_sigma_ref)
        self.last_detail_fraction: float | None = None
        self.last_threshold: float | None = None
        self._cache: tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None = None

    def threshold(self, y: torch.Tensor) -> float:
        """The detail threshold (0-255) for the noisy image ``y``."""
        if self.eps_g_sigma_ref is None:
            return self.eps_g
        return self.eps_g * estimate_noise_sigma(y) / self.eps_g_sigma_ref

    def detail_map(self, y: torch.Tensor, estimate: torch.Tensor) -> torch.Tensor:
        """1 on detail pixels, 0 on flat ones, shape (N, 1, H, W)."""
        self.last_threshold = self.threshold(y)
        return (euclidean_distance_map(y, estimate, self.detail_window) >= self.last_threshold).to(y.dtype)

    def probabilities(self, y: torch.Tensor, estimate: torch.Tensor) -> torch.Tensor:
        """Per-pixel masking probability map (N, 1, H, W) from the previous estimate (cached while the same ``y``
        and ``estimate`` tensors come back, i.e. for a whole cycle)."""
        if self._cache is not None and self._cache[0] is y and self._cache[1] is estimate:
            return self._cache[2]
        detail = self.detail_map(y, estimate)
        frac = float(detail.mean())
        self.last_detail_fraction = frac
        if frac >= 1.0:  # no flat pixel left to compensate: the plain rate everywhere
            probs = torch.full_like(detail, self.rate)
        else:
            p_flat = min(max((self.rate - self.p_detail * frac) / (1.0 - frac), 0.0), self.p_flat_max)
            probs = detail * self.p_detail + (1.0 - detail) * p_flat
        self._cache = (y, estimate, probs)
        return probs

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

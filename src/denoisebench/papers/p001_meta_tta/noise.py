"""Paper 001's degradations (Gunawan et al.): speckle (method-specs 2.4), salt-and-pepper (2.5) and the composite (2.6),
registered in the core NOISE_MODELS from the paper's folder (``Paper.registers``)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from denoisebench.noise.base import (
    NOISE_MODELS,
    NoiseModel,
    Param,
    common_params,
    exclusive,
    torch_uniform,
    uniform_or_fixed,
)

if TYPE_CHECKING:
    import torch


def speckle_np(x: np.ndarray, rng: np.random.Generator, sigma: float) -> np.ndarray:
    """y = x + x * n, n ~ N(0, sigma^2) per element (sigma in [0, 1] units)."""
    return x + x * (np.float32(sigma) * rng.standard_normal(x.shape, dtype=np.float32))


def salt_pepper_np(x: np.ndarray, rng: np.random.Generator, amount: float, salt_ratio: float) -> np.ndarray:
    """Set ceil(p*N*q) random elements to 1, then ceil(p*N*(1-q)) to 0 (N = all elements, channels included).

    Coordinates are drawn independently per axis, with replacement, over the full index range (the official
    code's ``randint(0, size - 1)`` never reaches the last index; that off-by-one is deliberately not copied).
    """
    y = x.copy()
    total = x.size
    for count, value in ((math.ceil(amount * total * salt_ratio), 1.0),
                         (math.ceil(amount * total * (1.0 - salt_ratio)), 0.0)):
        idx = tuple(rng.integers(0, dim, size=count) for dim in x.shape)
        y[idx] = value
    return y


def _salt_pepper_torch(batch: "torch.Tensor", generator: "torch.Generator", amount: "torch.Tensor",
                       salt_ratio: "torch.Tensor") -> "torch.Tensor":
    """Batched salt-and-pepper; ``amount`` and ``salt_ratio`` have shape (N,)."""
    import torch

    n, c, h, w = batch.shape
    total = c * h * w
    y = batch.clone(memory_format=torch.contiguous_format)
    flat = y.view(-1)
    dev = batch.device
    for frac, value in ((salt_ratio, 1.0), (1.0 - salt_ratio, 0.0)):
        counts = torch.ceil(amount.double() * total * frac.double()).long()
        most = int(counts.max().item()) if n else 0
        if most == 0:
            continue
        coords = [torch.randint(0, dim, (n, most), generator=generator, device=dev) for dim in (c, h, w)]
        index = ((torch.arange(n, device=dev)[:, None] * c + coords[0]) * h + coords[1]) * w + coords[2]
        valid = torch.arange(most, device=dev)[None, :] < counts[:, None]
        flat[index[valid]] = value
    return y


@NOISE_MODELS.register("speckle")
class Speckle(NoiseModel):
    """Multiplicative speckle, y = x + x * n, n ~ N(0, (sigma/255)^2), as in Gunawan et al.

    Args:
        sigma: fixed level in 0-255 units.
        sigma_range: ``[lo, hi]`` (0-255), sigma ~ U per image/sample (default [5, 50], Gunawan).
        clip: default True (Gunawan clamps after each degradation). quantize: default False.
    """

    name = "speckle"
    PARAMS = (
        Param("sigma", "float", None, low=0.0, high=255.0, key=True),
        Param("sigma_range", "range", (5.0, 50.0), low=0.0, high=255.0, label="sigma", key=True),
        *common_params(clip=True, quantize=False),
    )

    def _resolve(self, params: dict[str, Any], given: frozenset[str]) -> dict[str, Any]:
        exclusive(params, given, self.name, "sigma", "sigma_range")
        return params

    def _noise(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        sigma = float(uniform_or_fixed(rng, self._p["sigma"], self._p["sigma_range"])) / 255.0
        return speckle_np(x, rng, sigma)

    def _noise_torch(self, batch: "torch.Tensor", generator: "torch.Generator") -> "torch.Tensor":
        import torch

        sigma = torch_uniform(generator, self._p["sigma"], self._p["sigma_range"], (batch.shape[0], 1, 1, 1), batch)
        noise = torch.randn(batch.shape, generator=generator, dtype=batch.dtype, device=batch.device)
        return batch + batch * (sigma / 255.0) * noise


@NOISE_MODELS.register("salt_pepper")
class SaltPepper(NoiseModel):
    """Salt-and-pepper impulse noise per element (Gunawan et al.).

    Args:
        amount: fixed fraction p of corrupted elements.
        amount_range: p ~ U[lo, hi] per image (default [0, 0.01]).
        salt_ratio: fixed fraction q of salt (1) among the corrupted elements.
        salt_ratio_range: q ~ U[lo, hi] per image (default [0.3, 0.8]).
        clip: default False (the output is already in [0, 1] for an input in [0, 1]). quantize: default False.
    """

    name = "salt_pepper"
    PARAMS = (
        Param("amount", "float", None, low=0.0, high=1.0, key=True),
        Param("amount_range", "range", (0.0, 0.01), low=0.0, high=1.0, label="amount", key=True),
        Param("salt_ratio", "float", None, low=0.0, high=1.0),
        Param("salt_ratio_range", "range", (0.3, 0.8), low=0.0, high=1.0, label="saltratio"),
        *common_params(clip=False, quantize=False),
    )

    def _resolve(self, params: dict[str, Any], given: frozenset[str]) -> dict[str, Any]:
        exclusive(params, given, self.name, "amount", "amount_range")
        exclusive(params, given, self.name, "salt_ratio", "salt_ratio_range")
        return params

    def _noise(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        amount = float(uniform_or_fixed(rng, self._p["amount"], self._p["amount_range"]))
        ratio = float(uniform_or_fixed(rng, self._p["salt_ratio"], self._p["salt_ratio_range"]))
        return salt_pepper_np(x, rng, amount, ratio)

    def _noise_torch(self, batch: "torch.Tensor", generator: "torch.Generator") -> "torch.Tensor":
        import torch

        n = batch.shape[0]
        like = batch.new_empty(0, dtype=torch.float64)
        amount = torch_uniform(generator, self._p["amount"], self._p["amount_range"], (n,), like)
        ratio = torch_uniform(generator, self._p["salt_ratio"], self._p["salt_ratio_range"], (n,), like)
        return _salt_pepper_torch(batch, generator, amount, ratio)


@NOISE_MODELS.register("composite")
class Composite(NoiseModel):
    """Gunawan's composite: Gaussian, speckle and salt-and-pepper once each, in a random order per image.

    Args:
        gaussian_sigma_range: AWGN sigma ~ U[lo, hi] in 0-255 (default [5, 50]).
        speckle_sigma_range: speckle sigma ~ U[lo, hi] in 0-255 (default [5, 50]).
        amount_range: S&P amount ~ U[lo, hi] (default [0, 0.01]).
        salt_ratio_range: S&P salt ratio ~ U[lo, hi] (default [0.3, 0.8]).
        clip: clamp to [0, 1] after the Gaussian and the speckle steps and at the end (default True).
        quantize: default False.

    Random draws, in order: the permutation of the three steps, then each step's level and noise.
    """

    name = "composite"
    PARAMS = (
        Param("gaussian_sigma_range", "range", (5.0, 50.0), low=0.0, high=255.0, label="gauss"),
        Param("speckle_sigma_range", "range", (5.0, 50.0), low=0.0, high=255.0, label="speckle"),
        Param("amount_range", "range", (0.0, 0.01), low=0.0, high=1.0, label="amount"),
        Param("salt_ratio_range", "range", (0.3, 0.8), low=0.0, high=1.0, label="saltratio"),
        *common_params(clip=True, quantize=False),
    )

    def _noise(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        clip = self.clip
        y = x
        for step in rng.permutation(3):
            if step == 0:
                sigma = rng.uniform(*self._p["gaussian_sigma_range"]) / 255.0
                y = y + np.float32(sigma) * rng.standard_normal(y.shape, dtype=np.float32)
            elif step == 1:
                y = speckle_np(y, rng, rng.uniform(*self._p["speckle_sigma_range"]) / 255.0)
            else:
                amount = rng.uniform(*self._p["amount_range"])
                y = salt_pepper_np(y, rng, amount, rng.uniform(*self._p["salt_ratio_range"]))
            if clip and step != 2:
                y = np.clip(y, 0.0, 1.0)
        return y

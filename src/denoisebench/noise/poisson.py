"""Poisson and Poisson-Gaussian noise (method-specs 2.3)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from denoisebench.noise.base import NOISE_MODELS, NoiseModel, Param, common_params

if TYPE_CHECKING:
    import torch


@NOISE_MODELS.register("poisson")
class Poisson(NoiseModel):
    """Pure Poisson (shot) noise, y = Poisson(lam * x) / lam (N2N/B2U convention; larger lam, less noise).

    Args:
        lam: photon scale (default 30; the benchmarks use 30 and 50).
        clip: default False. quantize: default False.

    Negative input values are treated as 0 for the Poisson rate.
    """

    name = "poisson"
    PARAMS = (
        Param("lam", "float", 30.0, low=1e-6, high=1e9, key=True, doc="photon scale; y = Poisson(lam*x)/lam"),
        *common_params(clip=False, quantize=False),
    )

    def _noise(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        lam = float(self._p["lam"])
        counts = rng.poisson(lam * np.maximum(x, 0.0).astype(np.float64))
        return (counts / lam).astype(np.float32)

    def _noise_torch(self, batch: "torch.Tensor", generator: "torch.Generator") -> "torch.Tensor":
        import torch

        lam = float(self._p["lam"])
        return torch.poisson(lam * batch.clamp_min(0.0), generator=generator) / lam


@NOISE_MODELS.register("poisson_gaussian")
class PoissonGaussian(NoiseModel):
    """Poisson-Gaussian noise, y = a * Poisson(x / a) + N(0, b), so Var(y | x) = a * x + b.

    Args:
        a: Poisson gain (default 0.01); the HG model's lambda_s.
        b: Gaussian variance (default 0.0004, i.e. std 0.02 = 5.1/255); the HG model's lambda_r.
        clip: default False. quantize: default False.
    """

    name = "poisson_gaussian"
    PARAMS = (
        Param("a", "float", 0.01, low=1e-9, high=1.0, key=True, doc="Poisson gain"),
        Param("b", "float", 0.0004, low=0.0, high=1.0, key=True, doc="Gaussian variance"),
        *common_params(clip=False, quantize=False),
    )

    def _noise(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        a, b = float(self._p["a"]), float(self._p["b"])
        counts = rng.poisson(np.maximum(x, 0.0).astype(np.float64) / a)
        gauss = rng.standard_normal(x.shape, dtype=np.float32)
        return (a * counts).astype(np.float32) + np.float32(np.sqrt(b)) * gauss

    def _noise_torch(self, batch: "torch.Tensor", generator: "torch.Generator") -> "torch.Tensor":
        import torch

        a, b = float(self._p["a"]), float(self._p["b"])
        counts = torch.poisson(batch.clamp_min(0.0) / a, generator=generator)
        gauss = torch.randn(batch.shape, generator=generator, dtype=batch.dtype, device=batch.device)
        return a * counts + (b**0.5) * gauss

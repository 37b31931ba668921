"""Additive Gaussian noise models: AWGN (method-specs 2.1) and heterogeneous Gaussian (2.2)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from denoisebench.errors import ConfigError
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


@NOISE_MODELS.register("awgn")
class AWGN(NoiseModel):
    """Additive white Gaussian noise, y = x + sigma/255 * n, n ~ N(0, 1) i.i.d. per pixel and channel.

    Args:
        sigma: noise level in 0-255 units (default 25).
        sigma_range: ``[lo, hi]`` in 0-255 units for blind noise; sigma ~ U[lo, hi] per image / per sample.
        clip: clip to [0, 1] (default False: DnCNN/KAIR, N2N/B2U, S2S and seed-004 protocols).
        quantize: round to the 8-bit grid (default False).
    """

    name = "awgn"
    PARAMS = (
        Param("sigma", "float", 25.0, low=0.0, high=255.0, key=True, doc="noise std in 0-255 units"),
        Param("sigma_range", "range", None, low=0.0, high=255.0, label="sigma", key=True,
              doc="blind: sigma ~ U[lo, hi] (0-255) per image"),
        *common_params(clip=False, quantize=False),
    )

    def _resolve(self, params: dict[str, Any], given: frozenset[str]) -> dict[str, Any]:
        exclusive(params, given, self.name, "sigma", "sigma_range")
        return params

    @property
    def sigma(self) -> float | None:
        """The fixed sigma (0-255), or None for a blind range."""
        return None if self._p["sigma"] is None else float(self._p["sigma"])

    @property
    def sigma_range(self) -> tuple[float, float] | None:
        """The blind range ``(lo, hi)`` in 0-255 units, or None for a fixed sigma."""
        return self._p["sigma_range"]

    def draw_sigma(self, rng: np.random.Generator) -> float:
        """The sigma (0-255) of one image: the fixed value, or one U[lo, hi] draw from ``rng``."""
        return float(uniform_or_fixed(rng, self._p["sigma"], self._p["sigma_range"]))

    def _noise(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        sigma = np.float32(self.draw_sigma(rng) / 255.0)
        return x + sigma * rng.standard_normal(x.shape, dtype=np.float32)

    def _noise_torch(self, batch: "torch.Tensor", generator: "torch.Generator") -> "torch.Tensor":
        import torch

        sigma = torch_uniform(generator, self._p["sigma"], self._p["sigma_range"], (batch.shape[0], 1, 1, 1), batch)
        noise = torch.randn(batch.shape, generator=generator, dtype=batch.dtype, device=batch.device)
        return batch + (sigma / 255.0) * noise

    def apply_torch(self, batch: "torch.Tensor", generator: "torch.Generator",
                    return_sigma: bool = False) -> Any:
        """Batched AWGN; with ``return_sigma`` also the per-sample sigmas (N,) in 0-255 units.

        The sigmas are recovered exactly because they are drawn first from ``generator``; a clone of the
        generator state is used so the noise itself is identical with and without ``return_sigma``.
        """
        if not return_sigma:
            return super().apply_torch(batch, generator)
        import torch

        probe = torch.Generator(device=generator.device)
        probe.set_state(generator.get_state())
        sigma = torch_uniform(probe, self._p["sigma"], self._p["sigma_range"], (batch.shape[0], 1, 1, 1), batch)
        return super().apply_torch(batch, generator), sigma.reshape(-1)


_BROOKS_LOG_LS = (math.log(1e-4), math.log(1.2e-2))


@NOISE_MODELS.register("hetero_gaussian")
class HeteroGaussian(NoiseModel):
    """Heterogeneous (signal-dependent) Gaussian noise, y = x + sqrt(lambda_r + lambda_s * x) * n.

    Args:
        sampling: how the lambdas are chosen per image: ``"cbdnet"`` (default; sigma_s ~ U[sigma_s_range],
            sigma_c ~ U[sigma_c_range] per image and per channel, lambda_s = sigma_s^2, lambda_r = sigma_c^2),
            ``"brooks"`` (Brooks et al. 2019: log lambda_s ~ U[log 1e-4, log 1.2e-2],
            log lambda_r = 2.18 log lambda_s + 1.20 + N(0, 0.26^2), one pair per image) or ``"fixed"``.
        lambda_s: fixed signal-dependent variance factor (``sampling="fixed"``; giving it implies fixed).
        lambda_r: fixed signal-independent variance (``sampling="fixed"``).
        sigma_s_range: CBDNet range of sigma_s (default [0, 0.16]).
        sigma_c_range: CBDNet range of sigma_c (default [0, 0.06]).
        clip: clip to [0, 1] (default True). quantize: default False.
    """

    name = "hetero_gaussian"
    PARAMS = (
        Param("sampling", "str", "cbdnet", choices=("cbdnet", "brooks", "fixed"), key=True),
        Param("lambda_s", "float", None, low=0.0, high=1.0, key=True),
        Param("lambda_r", "float", None, low=0.0, high=1.0, key=True),
        Param("sigma_s_range", "range", (0.0, 0.16), low=0.0, high=1.0),
        Param("sigma_c_range", "range", (0.0, 0.06), low=0.0, high=1.0),
        *common_params(clip=True, quantize=False),
    )

    def _resolve(self, params: dict[str, Any], given: frozenset[str]) -> dict[str, Any]:
        has_fixed = params["lambda_s"] is not None or params["lambda_r"] is not None
        if has_fixed and "sampling" not in given:
            params["sampling"] = "fixed"
        if params["sampling"] == "fixed":
            if params["lambda_s"] is None or params["lambda_r"] is None:
                raise ConfigError(f"noise model {self.name!r}: sampling='fixed' needs both 'lambda_s' and 'lambda_r'")
        elif has_fixed:
            raise ConfigError(
                f"noise model {self.name!r}: 'lambda_s'/'lambda_r' are only valid with sampling='fixed', "
                f"got sampling={params['sampling']!r}"
            )
        return params

    def draw_lambdas(self, rng: np.random.Generator, channels: int) -> tuple[np.ndarray, np.ndarray]:
        """(lambda_s, lambda_r) of one image, each of shape (channels,)."""
        mode = self._p["sampling"]
        if mode == "fixed":
            return np.full(channels, self._p["lambda_s"]), np.full(channels, self._p["lambda_r"])
        if mode == "cbdnet":
            sigma_s = rng.uniform(*self._p["sigma_s_range"], size=channels)
            sigma_c = rng.uniform(*self._p["sigma_c_range"], size=channels)
            return sigma_s**2, sigma_c**2
        log_s = rng.uniform(*_BROOKS_LOG_LS)
        log_r = 2.18 * log_s + 1.20 + rng.normal(0.0, 0.26)
        return np.full(channels, math.exp(log_s)), np.full(channels, math.exp(log_r))

    def _noise(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        lam_s, lam_r = (v.astype(np.float32) for v in self.draw_lambdas(rng, x.shape[2]))
        std = np.sqrt(np.maximum(lam_r + lam_s * x, 0.0))
        return x + std * rng.standard_normal(x.shape, dtype=np.float32)

    def _noise_torch(self, batch: "torch.Tensor", generator: "torch.Generator") -> "torch.Tensor":
        import torch

        n, c = batch.shape[:2]
        mode = self._p["sampling"]
        if mode == "fixed":
            lam_s = torch_uniform(generator, self._p["lambda_s"], None, (n, c, 1, 1), batch)
            lam_r = torch_uniform(generator, self._p["lambda_r"], None, (n, c, 1, 1), batch)
        elif mode == "cbdnet":
            lam_s = torch_uniform(generator, None, self._p["sigma_s_range"], (n, c, 1, 1), batch) ** 2
            lam_r = torch_uniform(generator, None, self._p["sigma_c_range"], (n, c, 1, 1), batch) ** 2
        else:
            log_s = torch_uniform(generator, None, _BROOKS_LOG_LS, (n, 1, 1, 1), batch)
            jitter = torch.randn((n, 1, 1, 1), generator=generator, dtype=batch.dtype, device=batch.device)
            lam_s, lam_r = log_s.exp(), (2.18 * log_s + 1.20 + 0.26 * jitter).exp()
        noise = torch.randn(batch.shape, generator=generator, dtype=batch.dtype, device=batch.device)
        return batch + (lam_r + lam_s * batch).clamp_min(0.0).sqrt() * noise

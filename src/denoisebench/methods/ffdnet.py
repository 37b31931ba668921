"""FFDNet as a benchmark method (a baseline of paper 004's Tables II/III): method ``ffdnet``.

Config:
    channels: 3 (colour: depth 12, 96 features) or 1 (grey: depth 15, 64 features; set them explicitly).
    depth, features, batch_norm: architecture (:class:`~denoisebench.models.ffdnet.FFDNet`).
    train_noise: AWGN spec with a blind range, default ``{name: awgn, sigma_range: [0, 75]}`` (the FFDNet paper).
    train: TrainConfig overrides.

Training uses the generic trainer unchanged: :class:`NoiseLevelMapNoise` wraps the AWGN model so that the
"noisy" batch it returns carries the per-sample noise-level map (sigma / 255) as an extra last channel,
obtained from ``AWGN.apply_torch(..., return_sigma=True)``; FFDNet reads the map from that channel when called
without ``sigma``. The trainer's default MSE loss ``mse(model(noisy), clean)`` and its PSNR validator then work
as they are, and the noise itself is bit-identical to the wrapped model's.

Inference is non-blind: the context's sigma (0-255) is the map; without it (real noise) the sigma is estimated
with scikit-image's ``estimate_sigma``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from denoisebench.errors import ConfigError
from denoisebench.methods._config import sigma_01
from denoisebench.methods.base import METHODS, DenoiseContext
from denoisebench.methods.learned import LearnedMethod

#: FFDNet paper: Adam, batch 128, 50x50 (colour) patches, lr 1e-3 then 1e-4; MSE (a mean loss with Adam).
DEFAULT_TRAIN: dict[str, Any] = {"batch_size": 128, "patch_size": 50, "optimizer": "adam", "lr": 1e-3, "loss": "mse"}


class NoiseLevelMapNoise:
    """Wraps an AWGN noise model: outputs ``concat([noisy, sigma/255 map], channel)``.

    Args:
        inner: an AWGN model (needs ``apply_torch(batch, gen, return_sigma=True)`` and ``draw_sigma(rng)``).
    """

    def __init__(self, inner: Any) -> None:
        if not hasattr(inner, "draw_sigma"):
            raise ConfigError(f"ffdnet: training noise must be AWGN (fixed sigma or sigma_range), got {inner!r}")
        self.inner = inner

    @property
    def params(self) -> dict[str, Any]:
        return {**self.inner.params, "noise_level_map": True}

    def apply_torch(self, batch: Any, generator: Any) -> Any:
        import torch

        noisy, sigma = self.inner.apply_torch(batch, generator, return_sigma=True)
        level = (sigma / 255.0).to(noisy.dtype).view(-1, 1, 1, 1).expand(-1, 1, *noisy.shape[2:])
        return torch.cat([noisy, level], dim=1)

    def apply(self, clean: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Numpy path (H, W, C) -> (H, W, C+1): AWGN at one drawn sigma plus the constant map."""
        x = np.asarray(clean, dtype=np.float32)
        sigma = self.inner.draw_sigma(rng)
        noisy = x + np.float32(sigma / 255.0) * rng.standard_normal(x.shape, dtype=np.float32)
        if self.inner.clip:
            noisy = np.clip(noisy, 0.0, 1.0)
        level = np.full(x.shape[:2] + (1,), sigma / 255.0, dtype=np.float32)
        return np.concatenate([noisy, level], axis=2)


@METHODS.register("ffdnet")
class FFDNetMethod(LearnedMethod):
    """FFDNet (Zhang, Zuo & Zhang 2018): fast non-blind CNN denoiser with a noise-level map input."""

    name = "ffdnet"
    paper = "baseline"
    kind = "supervised"
    display_name = "FFDNet"
    uses_sigma = True
    needs_training = True
    DEFAULTS: dict[str, Any] = {
        "channels": 3, "depth": 12, "features": 96, "batch_norm": True,
        "train_noise": {"name": "awgn", "sigma_range": [0, 75]}, "train": {}, "amp": True,
    }

    @staticmethod
    def _build(params: dict[str, Any]) -> Any:
        from denoisebench.models.ffdnet import FFDNet

        return FFDNet(channels=params["channels"], depth=params["depth"], features=params["features"],
                      batch_norm=params["batch_norm"])

    def train(self, train_images: list[np.ndarray], out_dir: Path, *, train_config: Any = None, noise: Any = None,
              val_images: Sequence[np.ndarray] | None = None, tracking: dict[str, Any] | None = None,
              callbacks: Sequence[Any] = (), **kwargs: Any) -> Path:
        """Train with AWGN of per-sample sigma and its noise-level map; return the path of ``model.pt``."""
        from denoisebench.training import TrainConfig, psnr_validator

        if kwargs:
            raise TypeError(f"ffdnet.train: unexpected arguments {sorted(kwargs)}")
        cfg = train_config if isinstance(train_config, TrainConfig) else TrainConfig.from_dict(
            {**DEFAULT_TRAIN, **self.params["train"], **dict(train_config or {})})
        noise = self.training_noise(noise)
        wrapped = noise if isinstance(noise, NoiseLevelMapNoise) else NoiseLevelMapNoise(noise)
        validate = psnr_validator(val_images, wrapped, seed=cfg.seed) if val_images else None
        return self.fit(train_images, wrapped, cfg, out_dir, validate=validate, callbacks=callbacks, tracking=tracking)

    def denoise(self, noisy: np.ndarray, context: DenoiseContext) -> np.ndarray:
        import torch

        image, x, device = self.prepare_input(noisy, context)
        sigma = sigma_01(context, image)
        cuda = device.startswith("cuda")
        with torch.inference_mode(), torch.autocast("cuda", dtype=torch.float16, enabled=cuda and self.params["amp"]):
            out = self._model(x, sigma)
        return out.float()[0].cpu().numpy().transpose(1, 2, 0).copy()

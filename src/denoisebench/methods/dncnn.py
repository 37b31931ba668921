"""DnCNN as a benchmark method: trained with the generic supervised trainer, restored from its checkpoint.

Config (a ``methods:`` entry of params.yaml):
    channels: 1 (grey) or 3 (colour), default 3.
    depth: convolution layers, default 17 (DnCNN-S; the blind colour CDnCNN-B uses 20).
    features: hidden channels, default 64.
    train_noise: training noise spec, default ``"awgn:sigma=25"`` (per-sigma model); blind:
        ``{name: awgn, sigma_range: [0, 55]}``.
    train: optional :class:`~denoisebench.training.TrainConfig` overrides (the ``train_config`` argument of
        :meth:`DnCNNMethod.train` takes precedence).
    amp: autocast (float16) at inference on CUDA, default true.

torch is imported lazily so that listing methods stays fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np

from denoisebench.errors import ConfigError
from denoisebench.methods._config import merged_config
from denoisebench.methods.base import METHODS, DenoiseContext
from denoisebench.methods.learned import LearnedMethod

#: The paper's batch and patch size (DnCNN-S: 128 patches of 40x40); everything else is TrainConfig's default.
DEFAULT_TRAIN: dict[str, Any] = {"batch_size": 128, "patch_size": 40}


@METHODS.register("dncnn")
class DnCNNMethod(LearnedMethod):
    """DnCNN (Zhang et al. 2017): residual learning of AWGN with a plain conv+BN+ReLU network."""

    name = "dncnn"
    paper = "baseline"
    kind = "supervised"
    display_name = "DnCNN"
    needs_training = True
    DEFAULTS: dict[str, Any] = {
        "channels": 3, "depth": 17, "features": 64, "train_noise": "awgn:sigma=25", "train": {}, "amp": True,
    }

    @classmethod
    def _validate(cls, config: dict[str, Any]) -> dict[str, Any]:
        params = merged_config(cls.name, cls.DEFAULTS, config)
        if params["channels"] not in (1, 3):
            raise ConfigError(f"dncnn: channels={params['channels']!r} must be 1 (grey) or 3 (colour)")
        for key, low in (("depth", 3), ("features", 1)):
            if isinstance(params[key], bool) or not isinstance(params[key], int) or params[key] < low:
                raise ConfigError(f"dncnn: {key}={params[key]!r} must be an integer >= {low}")
        if not isinstance(params["train"], dict):
            raise ConfigError(f"dncnn: train={params['train']!r} must be a mapping of TrainConfig keys")
        return params

    def build_network(self) -> Any:
        """A freshly initialised :class:`~denoisebench.models.dncnn.DnCNN` of this configuration."""
        from denoisebench.models import build_model

        p = self.params
        return build_model("dncnn", channels=p["channels"], depth=p["depth"], features=p["features"])

    def train(
        self,
        train_images: list[np.ndarray],
        out_dir: Path,
        *,
        train_config: Any = None,
        noise: Any = None,
        val_images: Sequence[np.ndarray] | None = None,
        tracking: dict[str, Any] | None = None,
        callbacks: Sequence[Any] = (),
        **kwargs: Any,
    ) -> Path:
        """Train on clean images with noise synthesised on the fly; return the path of ``model.pt``.

        Args:
            train_images: clean float32 (H, W, C) images with C == ``channels``.
            out_dir: checkpoint folder (``state.pt`` for resuming, ``model.pt`` at the end).
            train_config: a TrainConfig or a mapping of its keys (merged over the config's ``train``).
            noise: a noise model object overriding ``train_noise`` (anything with ``apply``/``apply_torch``).
            val_images: clean images for the PSNR validation curve (every ``val_every`` steps).
            tracking: keyword arguments of ``tracked_run`` (stage, dataset, profile, enabled); None: no tracking.
            callbacks: ``(step, logs)`` hooks passed to the trainer.
        """
        from denoisebench.training import TrainConfig, psnr_validator

        if kwargs:
            raise TypeError(f"dncnn.train: unexpected arguments {sorted(kwargs)}")
        if isinstance(train_config, TrainConfig):
            cfg = train_config
        else:
            cfg = TrainConfig.from_dict({**DEFAULT_TRAIN, **self.params["train"], **dict(train_config or {})})
        self.check_channels(train_images)
        noise = self.training_noise(noise)
        validate = psnr_validator(val_images, noise, seed=cfg.seed) if val_images else None
        return self.fit(train_images, noise, cfg, out_dir, validate=validate, callbacks=callbacks, tracking=tracking)

    def denoise(self, noisy: np.ndarray, context: DenoiseContext) -> np.ndarray:
        import torch

        _, x, device = self.prepare_input(noisy, context)
        cuda = device.startswith("cuda")
        with torch.inference_mode():
            # The residual may run in float16; the subtraction y - R(y) stays in float32.
            with torch.autocast("cuda", dtype=torch.float16, enabled=cuda and self.params["amp"]):
                residual = self._model.residual(x)
            out = x - residual.float()
        return out[0].cpu().numpy().transpose(1, 2, 0).copy()

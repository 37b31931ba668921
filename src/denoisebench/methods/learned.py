"""Shared checkpoint loading of learned methods (one network trained by the generic trainer)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from denoisebench.checkpoints import load_verified
from denoisebench.errors import ConfigError
from denoisebench.methods._config import check_image, merged_config
from denoisebench.methods.base import DenoiseContext, Method


class LearnedMethod(Method):
    """A method whose state is one network saved in ``model.pt`` with its method config.

    Subclasses provide ``_validate(config) -> params`` (a classmethod) and ``build_network()``; ``train`` sets
    ``self._model``. :meth:`load` restores config, params and weights from the checkpoint alone, so
    ``denoisebench denoise --checkpoint P`` needs nothing else.
    """

    needs_training: ClassVar[bool] = True
    DEFAULTS: ClassVar[dict[str, Any]] = {}
    display_name: ClassVar[str] = ""  # how error messages name the model ("DnCNN"); defaults to ``name``

    def __init__(self, config: dict[str, Any] | None = None) -> None:
        super().__init__(config)
        self.params: dict[str, Any] = self._validate(self.config)
        self._model: Any = None
        self._device: str | None = None
        self.summary: dict[str, Any] = {}

    @classmethod
    def _validate(cls, config: dict[str, Any]) -> dict[str, Any]:
        """The config merged over ``DEFAULTS``; ``train`` must be a mapping and the architecture must build."""
        params = merged_config(cls.name, cls.DEFAULTS, config)
        if not isinstance(params.get("train", {}), dict):
            raise ConfigError(f"{cls.name}: train={params['train']!r} must be a mapping of TrainConfig keys")
        try:
            cls._build(params)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"{cls.name}: invalid architecture: {exc}") from exc
        return params

    @classmethod
    def short_schedule(cls, settings: dict[str, Any], steps: int) -> dict[str, Any]:
        """``settings`` (a ``train.<entry>.<profile>`` schedule without its data keys) cut to ``steps`` optimiser
        steps for a speed check (``benchmarks/gpu_check.py``): no checkpoint inside the run, about ten logged
        losses, no validation, no progress bar. Methods with a schedule of their own override it."""
        return {**settings, "iterations": steps, "checkpoint_every": steps + 1, "log_every": max(1, steps // 10),
                "val_every": 0, "progress": False, "num_workers": settings.get("num_workers", 0)}

    @classmethod
    def schedule_steps(cls, settings: dict[str, Any]) -> int | None:
        """Optimiser steps of a full schedule (what a speed check projects a paper run's time from)."""
        value = settings.get("iterations")
        return None if value is None else int(value)

    @staticmethod
    def _build(params: dict[str, Any]) -> Any:
        """The network for validated ``params``."""
        raise NotImplementedError

    def build_network(self) -> Any:
        """A freshly initialised network of this configuration."""
        return self._build(self.params)

    def parameter_count(self) -> int:
        from denoisebench.models import count_parameters

        return count_parameters(self.build_network())

    def prepare_input(self, noisy: np.ndarray, context: DenoiseContext) -> tuple[np.ndarray, Any, str]:
        """Checked image, its (1, C, H, W) tensor on the context's device, and that device; moves the network there.

        On CUDA the network and the input use the channels-last memory format.
        """
        import torch

        if self._model is None:
            raise ConfigError(f"{self.name}: no trained network; call train() or load a checkpoint "
                              "(CLI: --checkpoint PATH)")
        image = check_image(self.name, noisy)
        channels = self.params.get("channels", 3)
        if image.shape[2] != channels:
            raise ConfigError(f"{self.name}: this model takes {channels}-channel images, got {image.shape[2]} "
                              "channel(s); use a model trained for this kind of image")
        device = context.device
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        cuda = device.startswith("cuda")
        if self._device != device:
            self._model.to(device)
            if cuda:
                self._model.to(memory_format=torch.channels_last)
            self._device = device
        x = torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1))[None]).to(device)
        if cuda:
            x = x.contiguous(memory_format=torch.channels_last)
        return image, x, device

    def load(self, checkpoint: Path) -> None:
        """Restore the network and its method config from ``model.pt`` written by :meth:`train`."""
        path = Path(checkpoint)
        if not path.is_file():
            raise ConfigError(f"{self.name}: checkpoint {path} not found; train the model first (dvc repro) "
                              "or fix the path")
        ckpt = load_verified(path)
        if not isinstance(ckpt, dict) or ckpt.get("method") != self.name or "model" not in ckpt:
            found = ckpt.get("method") if isinstance(ckpt, dict) else None
            raise ConfigError(f"{self.name}: {path} is not a {self.display_name or self.name} model checkpoint "
                              f"(method={found!r}); give the model.pt written by training")
        self.config = dict(ckpt["method_config"])
        self.params = self._validate(self.config)
        model = self.build_network()
        model.load_state_dict(ckpt["model"])
        self._model, self._device = model.eval(), None
        self.summary = ckpt.get("summary", {})

    def check_channels(self, images: Sequence[np.ndarray]) -> None:
        """Training images must have the configured channel count; the error names the first offenders."""
        want = self.params["channels"]
        bad = [i for i, img in enumerate(images) if np.ndim(img) != 3 or img.shape[2] != want]
        if bad:
            raise ConfigError(
                f"{self.name}: training images {bad[:5]} do not have channels={want} (shape "
                f"{np.shape(images[bad[0]])}); use a {'grey' if want == 1 else 'colour'} training set or change "
                "the method's channels")

    def training_noise(self, noise: Any = None) -> Any:
        """``noise`` if given, else the model built from the config's ``train_noise``."""
        if noise is not None:
            return noise
        from denoisebench.noise import build_noise

        return build_noise(self.params["train_noise"])

    def fit(self, images: Sequence[np.ndarray], noise: Any, cfg: Any, out_dir: Path, *, loss_fn: Any = None,
            validate: Any = None, callbacks: Sequence[Any] = (), tracking: dict[str, Any] | None = None) -> Path:
        """Seed, build a fresh network, run the generic trainer and keep the trained network; return model.pt."""
        import torch

        from denoisebench.training import train_model

        torch.manual_seed(cfg.seed)
        model = self.build_network()
        tracking = None if tracking is None else {"method": self.name, **tracking}
        result = train_model(model, images, noise, cfg, out_dir, loss_fn=loss_fn, validate=validate,
                             callbacks=callbacks, meta={"method": self.name, "method_config": self.params},
                             tracking=tracking)
        self.last_result = result
        self._model, self._device = model.eval(), None
        return result.model_path

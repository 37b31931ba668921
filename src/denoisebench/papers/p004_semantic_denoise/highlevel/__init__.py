"""High-level vision networks for paper 004's cascade: frozen classifiers fed by a denoiser.

``CLASSIFIERS`` maps a name to a loader ``(weights_path_or_None) -> nn.Module`` whose modules expose
``forward(x) -> logits`` and ``forward_with_features(x) -> (logits, perceptual features)`` on [0, 1] RGB batches.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from torch import nn

from denoisebench.registry import Registry

CLASSIFIERS: Registry[Callable[..., nn.Module]] = Registry("classifier")


def _effnet(weights: Any = None) -> nn.Module:
    from denoisebench.papers.p004_semantic_denoise.highlevel.efficientnet_lite import load_efficientnet_lite0

    return load_efficientnet_lite0(weights)


def _vgg16(weights: Any = None) -> nn.Module:
    from denoisebench.papers.p004_semantic_denoise.highlevel.vgg16 import load_vgg16

    return load_vgg16(weights)


CLASSIFIERS.add("efficientnet_lite0", _effnet)
CLASSIFIERS.add("vgg16", _vgg16)


def build_classifier(name: str, weights: Any = None) -> nn.Module:
    """A frozen (eval mode, ``requires_grad=False``) classifier ``name`` with its weights."""
    net = CLASSIFIERS.get(name)(weights)
    for p in net.parameters():
        p.requires_grad_(False)
    return net.eval()


__all__ = ["CLASSIFIERS", "build_classifier"]

"""VGG-16 (Simonyan & Zisserman 2014), the classification network of paper 004, in torchvision's layout.

Written here (no torchvision dependency) so that a torchvision-format state dict (``features.N.weight``,
``classifier.{0,3,6}.*``; e.g. ``vgg16-397923af.pth``) supplied by the user loads strictly. No weights are
bundled: the benchmark machines cannot download them.

Input: RGB in [0, 1], normalised inside with torchvision's ImageNet mean/std (the preprocessing those weights
were trained with; the paper's Caffe VGG subtracted the BGR mean instead). Perceptual features: ``relu3_3``
(``features[15]``), as in the paper.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from denoisebench.errors import MissingInputError

#: Convolution widths, "M" = 2x2 max pooling (configuration "D").
CONFIG_D: tuple[int | str, ...] = (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M",
                                   512, 512, 512, "M")
RELU3_3 = 15  # index in ``features`` of the ReLU after conv3_3
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class VGG16(nn.Module):
    """VGG-16 in torchvision's module layout (``features``, ``avgpool``, ``classifier``).

    Args:
        num_classes: outputs of the last linear layer.
        feature_index: index in ``features`` whose output is the perceptual feature (relu3_3 = 15).
    """

    def __init__(self, num_classes: int = 1000, feature_index: int = RELU3_3) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        in_ch = 3
        for item in CONFIG_D:
            if item == "M":
                layers.append(nn.MaxPool2d(2, 2))
            else:
                layers += [nn.Conv2d(in_ch, int(item), 3, padding=1), nn.ReLU(inplace=False)]
                in_ch = int(item)
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d((7, 7))
        self.classifier = nn.Sequential(
            nn.Linear(512 * 7 * 7, 4096), nn.ReLU(), nn.Dropout(0.5),
            nn.Linear(4096, 4096), nn.ReLU(), nn.Dropout(0.5),
            nn.Linear(4096, num_classes),
        )
        if not 0 <= feature_index < len(self.features):
            raise ValueError(f"VGG16: feature_index={feature_index} must be in [0, {len(self.features) - 1}]")
        self.feature_index = feature_index
        self.register_buffer("in_mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("in_std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.in_mean) / self.in_std

    def features_at(self, x: torch.Tensor) -> torch.Tensor:
        """Perceptual features (relu3_3 by default) of a [0, 1] RGB batch."""
        return self.features[: self.feature_index + 1](self.normalize(x))

    def forward_with_features(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(logits, perceptual features) in one pass."""
        h = self.normalize(x)
        feats = h
        for i, layer in enumerate(self.features):
            h = layer(h)
            if i == self.feature_index:
                feats = h
        h = torch.flatten(self.avgpool(h), 1)
        return self.classifier(h), feats

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_with_features(x)[0]


def clean_state_dict(state: Mapping[str, Any]) -> dict[str, torch.Tensor]:
    """Unwrap ``{"state_dict": ...}`` / ``{"model": ...}`` containers and strip a ``module.`` prefix."""
    for key in ("state_dict", "model"):
        if key in state and isinstance(state[key], Mapping):
            state = state[key]
    return {(k.removeprefix("module.")): v for k, v in state.items()}


def load_vgg16(weights: str | Path | Mapping[str, Any] | None) -> VGG16:
    """VGG-16 with a user-supplied torchvision-format state dict (path or mapping), strictly loaded, eval mode."""
    if weights is None:
        raise MissingInputError(
            "VGG-16 needs ImageNet weights in torchvision format (e.g. vgg16-397923af.pth); give their path "
            "(classifier_weights in the method config / --vgg16-weights); none are bundled"
        )
    if isinstance(weights, Mapping):
        state = weights
    else:
        path = Path(weights)
        if not path.is_file():
            raise MissingInputError(f"VGG-16 weights {path} not found")
        state = torch.load(path, map_location="cpu", weights_only=True)
    with torch.device("meta"):  # no random initialisation of 138 M parameters that are overwritten anyway
        model = VGG16()
    try:
        model.load_state_dict(clean_state_dict(state), strict=True, assign=True)
    except RuntimeError as exc:
        raise ValueError(f"VGG-16 weights are not a torchvision VGG-16 state dict: {exc}") from exc
    model.in_mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    model.in_std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    return model.eval()


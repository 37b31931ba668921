"""DnCNN (Zhang, Zuo, Chen, Meng & Zhang, "Beyond a Gaussian Denoiser", IEEE TIP 2017).

Layout for depth D: Conv+ReLU, (D-2) x (Conv+BN+ReLU), Conv. All convolutions are 3x3 with ``features``
channels. The network predicts the noise (residual learning); :meth:`DnCNN.forward` returns the clean estimate
``noisy - residual`` so a trainer can compare the output with the clean target directly.

Convolutions followed by BatchNorm carry no bias (it would be absorbed by the BN shift), nor does the last one,
as in the authors' PyTorch training code; colour, depth 20 then has 669,376 parameters ("about 0.67 M").
"""

from __future__ import annotations

import torch
from torch import nn

from denoisebench.models import MODELS


@MODELS.register("dncnn")
class DnCNN(nn.Module):
    """The DnCNN denoiser.

    Args:
        channels: image channels (1 grey, 3 colour).
        depth: number of convolution layers (17 for DnCNN-S, 20 for the blind CDnCNN-B); at least 3.
        features: channels of the hidden layers (64 in the paper).
        bn_eps: BatchNorm epsilon (1e-4 as in the authors' code).
    """

    def __init__(self, channels: int = 3, depth: int = 17, features: int = 64, bn_eps: float = 1e-4) -> None:
        super().__init__()
        if channels < 1:
            raise ValueError(f"DnCNN: channels={channels} must be positive")
        if depth < 3:
            raise ValueError(f"DnCNN: depth={depth} must be at least 3 (head, one BN block, tail)")
        layers: list[nn.Module] = [nn.Conv2d(channels, features, 3, padding=1, bias=True), nn.ReLU(inplace=True)]
        for _ in range(depth - 2):
            layers += [
                nn.Conv2d(features, features, 3, padding=1, bias=False),
                nn.BatchNorm2d(features, eps=bn_eps),
                nn.ReLU(inplace=True),
            ]
        layers.append(nn.Conv2d(features, channels, 3, padding=1, bias=False))
        self.body = nn.Sequential(*layers)
        self.channels, self.depth, self.features = channels, depth, features
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """He (Kaiming) normal initialisation of the convolutions, as in the paper; BN starts as identity."""
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
                if module.bias is not None:
                    nn.init.zeros_(module.bias)
            elif isinstance(module, nn.BatchNorm2d):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)

    def residual(self, noisy: torch.Tensor) -> torch.Tensor:
        """The predicted noise ``R(y)``."""
        return self.body(noisy)

    def forward(self, noisy: torch.Tensor) -> torch.Tensor:
        """Clean estimate ``y - R(y)`` for an (N, C, H, W) batch."""
        return noisy - self.body(noisy)

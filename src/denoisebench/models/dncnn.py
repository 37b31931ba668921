"""DnCNN (Zhang, Zuo, Chen, Meng & Zhang, "Beyond a Gaussian Denoiser", IEEE TIP 2017).

Layout for depth D: Conv+ReLU, (D-2) x (Conv+BN+ReLU), Conv. All convolutions are 3x3 with ``features``
channels. The network predicts the noise (residual learning); :meth:`DnCNN.forward` returns the clean estimate
``noisy - residual`` so a trainer can compare the output with the clean target directly.

Convolutions followed by BatchNorm carry no bias (it would be absorbed by the BN shift), nor does the last one,
as in the authors' PyTorch training code; colour, depth 20 then has 669,376 parameters ("about 0.67 M").
With ``batch_norm=False`` every convolution has a bias and there is no BN: the layout of the authors' released
MatConvNet models, whose BN is folded into the convolutions (see :mod:`denoisebench.pretrained`).

Initialisation follows the authors' MatConvNet code (``DnCNN_Init.m`` of cszn/DnCNN's DagNN training code):
every convolution N(0, 2 / (9 max(C_in, C_out))) (so the first and last layers are small too), zero biases, BN
scales drawn N(0, 2 / (9 C)) with magnitudes clipped up to 0.025, zero shifts. The predicted residual then starts
near zero, so the initial output is close to the noisy input (He-normal everywhere with unit BN scales made the
residual ~9x the sigma-25 noise and the initial output ~0.7 dB).
"""

from __future__ import annotations

import torch
from torch import nn

from denoisebench.models import MODELS


#: Smallest magnitude of an initial BN scale (``b_min`` of the authors' ``DnCNN_Init.m``).
BN_SCALE_MIN = 0.025


def init_bn_scale_(weight: torch.Tensor, minimum: float) -> None:
    """BN scales ~ N(0, 2 / (9 C)) with magnitudes below ``minimum`` pushed to +-``minimum`` (sign kept)."""
    with torch.no_grad():
        weight.normal_(0.0, (2.0 / (9 * weight.numel())) ** 0.5)
        small = weight.abs() < minimum
        weight[small] = torch.where(weight[small] < 0, -minimum, minimum)


@MODELS.register("dncnn")
class DnCNN(nn.Module):
    """The DnCNN denoiser.

    Args:
        channels: image channels (1 grey, 3 colour).
        depth: number of convolution layers (17 for DnCNN-S, 20 for the blind CDnCNN-B); at least 3.
        features: channels of the hidden layers (64 in the paper).
        bn_eps: BatchNorm epsilon (1e-4 as in the authors' code).
        batch_norm: BN in the middle layers (training); False: biased convolutions only (folded published models).
    """

    def __init__(self, channels: int = 3, depth: int = 17, features: int = 64, bn_eps: float = 1e-4,
                 batch_norm: bool = True) -> None:
        super().__init__()
        if channels < 1:
            raise ValueError(f"DnCNN: channels={channels} must be positive")
        if depth < 3:
            raise ValueError(f"DnCNN: depth={depth} must be at least 3 (head, one BN block, tail)")
        layers: list[nn.Module] = [nn.Conv2d(channels, features, 3, padding=1, bias=True), nn.ReLU(inplace=True)]
        for _ in range(depth - 2):
            layers.append(nn.Conv2d(features, features, 3, padding=1, bias=not batch_norm))
            if batch_norm:
                layers.append(nn.BatchNorm2d(features, eps=bn_eps))
            layers.append(nn.ReLU(inplace=True))
        layers.append(nn.Conv2d(features, channels, 3, padding=1, bias=not batch_norm))
        self.body = nn.Sequential(*layers)
        self.channels, self.depth, self.features = channels, depth, features
        self.batch_norm = batch_norm
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """The authors' MatConvNet initialisation (module docstring): small convolutions and BN scales."""
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                fan = 9 * max(module.in_channels, module.out_channels)
                nn.init.normal_(module.weight, 0.0, (2.0 / fan) ** 0.5)
                if module.bias is not None:
                    nn.init.zeros_(module.bias)
            elif isinstance(module, nn.BatchNorm2d):
                init_bn_scale_(module.weight, BN_SCALE_MIN)
                nn.init.zeros_(module.bias)

    def residual(self, noisy: torch.Tensor) -> torch.Tensor:
        """The predicted noise ``R(y)``."""
        return self.body(noisy)

    def forward(self, noisy: torch.Tensor) -> torch.Tensor:
        """Clean estimate ``y - R(y)`` for an (N, C, H, W) batch."""
        return noisy - self.body(noisy)

"""CBDNet (Guo, Yan, Zhang, Zuo & Zhang, CVPR 2019): noise estimator CNN_E + non-blind U-Net CNN_D.

Layout (method-specs 3(a), agreeing with the CBDNet paper's description):

- CNN_E: five 3x3 convolutions with 32 channels, ReLU after each (the last one too), output a 3-channel
  noise-level map sigma-hat of the input's size. No BN, no pooling.
- CNN_D: a 16-layer U-Net on concat(y, sigma-hat) (6 channels): 2 x conv64, AvgPool2, 3 x conv128, AvgPool2,
  6 x conv256, ConvT2x2(256->128) + skip **add**, 3 x conv128, ConvT2x2(128->64) + skip add, 2 x conv64, then the
  output layer 1x1 conv(64->3) (:attr:`CBDNet.head`). All 3x3 convs are followed by ReLU.
- Global residual: x-hat = y + CNN_D(y, sigma-hat).

4,365,382 parameters (CNN_E 29,507; CNN_D 4,335,875). Inputs whose sides are not multiples of 4 are
reflect-padded and cropped back.

CBDNet's own losses on the noise map are here too: :func:`asymmetric_loss` and :func:`tv_loss`
(lambda_asymm = 0.5, alpha = 0.3, lambda_TV = 0.05 in :data:`CBDNET_LOSS_DEFAULTS`).
"""

from __future__ import annotations

import torch
from torch import nn

from denoisebench.models import MODELS
from denoisebench.papers.p000_mtl_slw.dae import pad_to_multiple

#: CBDNet's weights of its noise-map losses and the asymmetry alpha (CBDNet paper; IDKiro `fixed_loss`).
CBDNET_LOSS_DEFAULTS = {"asym_weight": 0.5, "asym_alpha": 0.3, "tv_weight": 0.05}


def _conv_relu(cin: int, cout: int) -> list[nn.Module]:
    return [nn.Conv2d(cin, cout, 3, padding=1), nn.ReLU(inplace=True)]


def _stack(cin: int, cout: int, n: int) -> nn.Sequential:
    layers = _conv_relu(cin, cout)
    for _ in range(n - 1):
        layers += _conv_relu(cout, cout)
    return nn.Sequential(*layers)


class NoiseEstimator(nn.Module):
    """CNN_E: five 3x3 convs (32 channels), ReLU after each; output a non-negative sigma map."""

    def __init__(self, channels: int = 3, features: int = 32, depth: int = 5) -> None:
        super().__init__()
        layers = _conv_relu(channels, features)
        for _ in range(depth - 2):
            layers += _conv_relu(features, features)
        layers += _conv_relu(features, channels)
        self.body = nn.Sequential(*layers)

    def forward(self, noisy: torch.Tensor) -> torch.Tensor:
        return self.body(noisy)


class UNetD(nn.Module):
    """CNN_D: the non-blind U-Net; ``forward(features)`` stops before the output layer."""

    def __init__(self, channels: int = 3) -> None:
        super().__init__()
        self.inc = _stack(2 * channels, 64, 2)
        self.down1 = nn.AvgPool2d(2)
        self.conv1 = _stack(64, 128, 3)
        self.down2 = nn.AvgPool2d(2)
        self.conv2 = _stack(128, 256, 6)
        self.up1 = nn.ConvTranspose2d(256, 128, 2, stride=2)
        self.conv3 = _stack(128, 128, 3)
        self.up2 = nn.ConvTranspose2d(128, 64, 2, stride=2)
        self.conv4 = _stack(64, 64, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skip0 = self.inc(x)
        skip1 = self.conv1(self.down1(skip0))
        deep = self.conv2(self.down2(skip1))
        up1 = self.conv3(self.up1(deep) + skip1)
        return self.conv4(self.up2(up1) + skip0)


@MODELS.register("cbdnet")
class CBDNet(nn.Module):
    """CBDNet: ``run(y)`` returns the clean estimate and the estimated noise-level map.

    Args:
        channels: image channels (3).
    """

    def __init__(self, channels: int = 3) -> None:
        super().__init__()
        self.estimator = NoiseEstimator(channels)
        self.unet = UNetD(channels)
        self.head = nn.Conv2d(64, channels, 1)  # CNN_D's output layer ("outc")
        self.channels = channels

    def run(self, noisy: torch.Tensor, head: nn.Module | None = None) -> dict[str, torch.Tensor]:
        """``{"out": y + CNN_D(y, sigma-hat), "sigma": sigma-hat}``; ``head`` replaces CNN_D's output layer."""
        y, (h, w) = pad_to_multiple(noisy, 4)
        sigma = self.estimator(y)
        residual = (head or self.head)(self.unet(torch.cat([y, sigma], dim=1)))
        return {"out": (y + residual)[..., :h, :w], "sigma": sigma[..., :h, :w]}

    def forward(self, noisy: torch.Tensor) -> torch.Tensor:
        """Clean estimate of an (N, C, H, W) batch."""
        return self.run(noisy)["out"]


def asymmetric_loss(sigma_hat: torch.Tensor, sigma: torch.Tensor, alpha: float = 0.3) -> torch.Tensor:
    """CBDNet's asymmetric loss mean(|alpha - 1[sigma_hat < sigma]| * (sigma_hat - sigma)^2) (CBDNet eq. 6).

    Under-estimation (sigma_hat < sigma) is weighted by 1 - alpha = 0.7, over-estimation by alpha = 0.3, so the
    estimator prefers to over-estimate (the non-blind denoiser is robust to that). Note: IDKiro/CBDNet-pytorch's
    ``fixed_loss`` uses the indicator 1[sigma < sigma_hat], i.e. the opposite asymmetry; we follow the paper.
    """
    under = (sigma_hat < sigma).to(sigma_hat.dtype)
    return torch.mean(torch.abs(alpha - under) * (sigma_hat - sigma) ** 2)


def tv_loss(sigma_hat: torch.Tensor) -> torch.Tensor:
    """Total variation of the noise map: mean squared vertical plus mean squared horizontal differences."""
    dh = sigma_hat[..., 1:, :] - sigma_hat[..., :-1, :]
    dw = sigma_hat[..., :, 1:] - sigma_hat[..., :, :-1]
    return dh.pow(2).mean() + dw.pow(2).mean()

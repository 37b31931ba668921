"""RIDNet (Anwar & Barnes, ICCV 2019), the Table 2 baseline of paper 001, as the official code and TTAID's vendored
copy build it (n_feats 64, reduction 16, biased convs, no mean shift): a head conv, four enhancement-attention
modules (merge-and-run unit with dilations 1,2 | 3,4; residual block; enhanced residual block with a 1x1 conv;
channel attention), a tail conv and a global skip. 1,499,347 parameters (the paper prints 1.49 M).
"""

from __future__ import annotations

import torch
from torch import nn

from denoisebench.models import MODELS


def _conv(cin: int, cout: int, kernel: int = 3, dilation: int = 1) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, kernel, padding=dilation * (kernel // 2), dilation=dilation)


class MergeRun(nn.Module):
    """Two dilated branches (1, 2) and (3, 4), concatenated, fused by a 3x3 conv, plus identity."""

    def __init__(self, c: int) -> None:
        super().__init__()
        self.branch1 = nn.Sequential(_conv(c, c), nn.ReLU(), _conv(c, c, dilation=2), nn.ReLU())
        self.branch2 = nn.Sequential(_conv(c, c, dilation=3), nn.ReLU(), _conv(c, c, dilation=4), nn.ReLU())
        self.fuse = nn.Sequential(_conv(2 * c, c), nn.ReLU())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.fuse(torch.cat([self.branch1(x), self.branch2(x)], dim=1))


class _Residual(nn.Module):
    """relu(x + body(x))."""

    def __init__(self, body: nn.Module) -> None:
        super().__init__()
        self.body = body

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(x + self.body(x))


class ChannelAttention(nn.Module):
    def __init__(self, c: int, reduction: int) -> None:
        super().__init__()
        self.gate = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Conv2d(c, c // reduction, 1), nn.ReLU(),
                                  nn.Conv2d(c // reduction, c, 1), nn.Sigmoid())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.gate(x)


def _eam(c: int, reduction: int) -> nn.Sequential:
    """Enhancement attention module."""
    return nn.Sequential(
        MergeRun(c),
        _Residual(nn.Sequential(_conv(c, c), nn.ReLU(), _conv(c, c))),
        _Residual(nn.Sequential(_conv(c, c), nn.ReLU(), _conv(c, c), nn.ReLU(), nn.Conv2d(c, c, 1))),
        ChannelAttention(c, reduction),
    )


class RIDNet(nn.Module):
    """Real image denoising with feature attention; ``forward`` returns the clean estimate (input + residual)."""

    def __init__(self, channels: int = 3, features: int = 64, reduction: int = 16, modules: int = 4) -> None:
        super().__init__()
        self.head = nn.Sequential(_conv(channels, features), nn.ReLU())
        self.body = nn.Sequential(*(_eam(features, reduction) for _ in range(modules)))
        self.tail = _conv(features, channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.tail(self.body(self.head(x)))


MODELS.add("ridnet", RIDNet)

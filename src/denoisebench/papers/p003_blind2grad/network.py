"""The Blind2Grad denoising network (Song et al. 2025, section 3.3, Fig. 3), as specified in method-specs 6(a).

Encoder (``levels`` = 5 downsamplings, all 3x3 kernels, LeakyReLU(0.1), stride 1 / padding "same"):
    masked (partial) conv C->48 and conv 48->48 at H x W (dilation 2 in the real-noise variant), then
    [max-pool 2, conv 48->48] down to H/32.
Decoder, symmetric, from H/32 up to H:
    each stage: nearest upsample x2 -> BatchNorm -> [gradient layer at H/2] -> channel attention (SE, eq. 3.12)
    -> concatenate the encoder skip (at H: the masked input) -> T-standout -> conv -> T-standout -> conv,
    widths 96 at H/16..H/2, then 64 and 32 at H, and a linear 3x3 conv to C.
Gradient layer: concatenates |dx| and |dy| (forward differences) of its input to the features and maps back to
the width with a 1x1 conv (the "1/2H x 1/2W gradient convolution layer", third stage from the bottom of Fig. 3).
T-standout (eq. 3.11) replaces Self2Self's decoder dropout; see :mod:`denoisebench.papers.p003_blind2grad.tstandout`.

Inputs must have H and W divisible by 2**levels (the method reflect-pads).
"""

from __future__ import annotations

import itertools

import torch
import torch.nn.functional as F
from torch import nn

from denoisebench.models import MODELS
from denoisebench.papers.p003_blind2grad.common import PartialConv2d
from denoisebench.papers.p003_blind2grad.losses import forward_differences
from denoisebench.papers.p003_blind2grad.tstandout import TStandout, guide_gradient


class ChannelAttention(nn.Module):
    """Squeeze-and-excitation gating ``S = sigmoid(W_II relu(W_I B(x)))`` with global average pooling B."""

    def __init__(self, channels: int, reduction: int = 8) -> None:
        super().__init__()
        hidden = max(channels // reduction, 4)
        self.fc1 = nn.Conv2d(channels, hidden, 1)
        self.fc2 = nn.Conv2d(hidden, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = torch.sigmoid(self.fc2(F.relu(self.fc1(x.mean(dim=(2, 3), keepdim=True)))))
        return x * s


class GradientLayer(nn.Module):
    """Concatenate |dx|, |dy| of the features and fuse back to ``channels`` with a 1x1 conv."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.fuse = nn.Conv2d(3 * channels, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gx, gy = forward_differences(x)
        return self.fuse(torch.cat([x, gx.abs(), gy.abs()], dim=1))


class DecoderStage(nn.Module):
    """Upsample -> BN -> [gradient layer] -> channel attention -> concat skip -> (T-standout, conv) x n."""

    def __init__(self, in_ch: int, skip_ch: int, widths: list[int], gradient: bool, attention: bool,
                 reduction: int, tstandout: dict, slope: float) -> None:
        super().__init__()
        self.bn = nn.BatchNorm2d(in_ch)
        self.gradient = GradientLayer(in_ch) if gradient else None
        self.attention = ChannelAttention(in_ch, reduction) if attention else None
        chans = [in_ch + skip_ch, *widths]
        self.standouts = nn.ModuleList(TStandout(**tstandout) for _ in widths)
        self.convs = nn.ModuleList(nn.Conv2d(a, b, 3, padding=1) for a, b in itertools.pairwise(chans))
        self.slope = slope

    def forward(self, x: torch.Tensor, skip: torch.Tensor, guide_grad: torch.Tensor | None) -> torch.Tensor:
        x = self.bn(F.interpolate(x, size=skip.shape[-2:], mode="nearest"))
        if self.gradient is not None:
            x = self.gradient(x)
        if self.attention is not None:
            x = self.attention(x)
        x = torch.cat([x, skip], dim=1)
        for standout, conv in zip(self.standouts, self.convs):
            x = F.leaky_relu(conv(standout(x, guide_grad)), self.slope)
        return x


@MODELS.register("blind2grad")
class Blind2GradNet(nn.Module):
    """Blind2Grad encoder-decoder.

    Args:
        channels: image channels.
        enc_width: encoder width (48).
        dec_width: decoder width at H/16..H/2 (96).
        head_widths: the two full-resolution decoder widths (64, 32).
        levels: number of 2x downsamplings (5: H/32 at the bottom).
        dilation: dilation of the two full-resolution encoder convs (1 synthetic, 2 real-noise variant).
        gradient_layer: insert the gradient layer at the H/2 decoder stage.
        attention: channel attention in every decoder stage; ``reduction`` its squeeze ratio.
        tstandout_p, eps_s, tstandout: T-standout drop rate, threshold (None: plain dropout), on/off.
        slope: LeakyReLU negative slope (0.1).
    """

    def __init__(self, channels: int = 3, enc_width: int = 48, dec_width: int = 96,
                 head_widths: tuple[int, int] = (64, 32), levels: int = 5, dilation: int = 1,
                 gradient_layer: bool = True, attention: bool = True, reduction: int = 8,
                 tstandout_p: float = 0.3, eps_s: float | None = 25.0, tstandout: bool = True,
                 slope: float = 0.1) -> None:
        super().__init__()
        if levels < 1:
            raise ValueError(f"Blind2GradNet: levels={levels} must be >= 1")
        self.channels, self.levels, self.slope = channels, levels, slope
        self.enc0 = PartialConv2d(channels, enc_width, 3, padding=dilation, dilation=dilation)
        self.enc1 = nn.Conv2d(enc_width, enc_width, 3, padding=dilation, dilation=dilation)
        self.down = nn.ModuleList(nn.Conv2d(enc_width, enc_width, 3, padding=1) for _ in range(levels))
        so = {"p": tstandout_p, "eps_s": eps_s, "enabled": tstandout}
        stages = []
        in_ch = enc_width
        for level in range(levels - 1, 0, -1):  # decoder stages at H/2^(levels-1) ... H/2
            stages.append(DecoderStage(in_ch, enc_width, [dec_width, dec_width], gradient_layer and level == 1,
                                       attention, reduction, so, slope))
            in_ch = dec_width
        stages.append(DecoderStage(in_ch, channels, list(head_widths), False, attention, reduction, so, slope))
        self.decoder = nn.ModuleList(stages)
        self.out = nn.Conv2d(head_widths[-1], channels, 3, padding=1)

    def tstandouts(self) -> list[TStandout]:
        """Every T-standout layer (to share a generator or inspect protection)."""
        return [m for m in self.modules() if isinstance(m, TStandout)]

    def set_generator(self, generator: torch.Generator | None) -> None:
        """Draw all T-standout masks from ``generator`` (deterministic per-image training)."""
        for layer in self.tstandouts():
            layer.generator = generator

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None,
                guide: torch.Tensor | None = None) -> torch.Tensor:
        """Denoise ``x`` (N, C, H, W); ``mask`` (1 visible) feeds the partial conv; ``guide`` drives T-standout."""
        if mask is None:
            mask = torch.ones_like(x[:, :1])
        guide_grad = guide_gradient(guide) if guide is not None else None
        h, _ = self.enc0(x, mask)
        h = F.leaky_relu(h, self.slope)
        h = F.leaky_relu(self.enc1(h), self.slope)
        skips = [x]
        for i, conv in enumerate(self.down):
            h = F.leaky_relu(conv(F.max_pool2d(h, 2)), self.slope)
            if i < self.levels - 1:
                skips.append(h)
        for stage, skip in zip(self.decoder, reversed(skips)):
            h = stage(h, skip, guide_grad)
        return self.out(h)

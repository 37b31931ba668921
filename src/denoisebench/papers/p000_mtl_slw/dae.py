"""Convolutional denoising autoencoder of seed 000 (Xiang, Tang & Zhou 2024): **a reconstructed stand-in**.

The paper's DAE layer table (its Table 1) is missing from the text, so this is method-specs 3(a)'s
reconstruction, labelled "DAE (reconstructed)" wherever it is reported:

- encoder: Conv3x3(3->64)-ReLU, Conv3x3(64->64, stride 2)-ReLU, Conv3x3(64->128)-ReLU,
  Conv3x3(128->128, stride 2)-ReLU: z has 128 x H/4 x W/4 (128 x 24 x 24 for the paper's 96 x 96 patches);
- decoder: ConvT4x4(128->64, stride 2)-ReLU, Conv3x3(64->64)-ReLU, ConvT4x4(64->32, stride 2)-ReLU, then the
  output layer Conv3x3(32->3) (the :attr:`DAE.head`).

No BatchNorm; the output is the image itself (no residual connection). 461,891 parameters for RGB.
Inputs whose sides are not multiples of 4 are reflect-padded and the output cropped back.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from denoisebench.models import MODELS

#: Total down-sampling factor of the encoder; input sides are padded to a multiple of it.
DAE_STRIDE = 4


def pad_to_multiple(x: torch.Tensor, multiple: int) -> tuple[torch.Tensor, tuple[int, int]]:
    """Reflect-pad the bottom/right of an (N, C, H, W) batch so H and W are multiples of ``multiple``.

    Returns the padded batch and the original (H, W). Sides of 1 pixel fall back to replicate padding.
    """
    h, w = x.shape[-2:]
    ph, pw = (-h) % multiple, (-w) % multiple
    if ph or pw:
        mode = "reflect" if h > ph and w > pw else "replicate"
        x = F.pad(x, (0, pw, 0, ph), mode=mode)
    return x, (h, w)


@MODELS.register("dae")
class DAE(nn.Module):
    """Symmetric convolutional DAE (method-specs 3(a) reconstruction; the paper's own table is missing).

    Args:
        channels: image channels (3 for the paper's RGB patches).
        features: channels of the first encoder stage (64); the bottleneck has ``2 * features``.
    """

    def __init__(self, channels: int = 3, features: int = 64) -> None:
        super().__init__()
        if channels < 1 or features < 2 or features % 2:
            raise ValueError(f"DAE: need channels >= 1 and an even features >= 2, got {channels}, {features}")
        f, f2, fh = features, 2 * features, features // 2

        def relu() -> nn.Module:
            return nn.ReLU(inplace=True)

        self.encoder = nn.Sequential(
            nn.Conv2d(channels, f, 3, padding=1), relu(),
            nn.Conv2d(f, f, 3, stride=2, padding=1), relu(),
            nn.Conv2d(f, f2, 3, padding=1), relu(),
            nn.Conv2d(f2, f2, 3, stride=2, padding=1), relu(),
        )
        self.decoder = nn.Sequential(
            nn.ConvTranspose2d(f2, f, 4, stride=2, padding=1), relu(),
            nn.Conv2d(f, f, 3, padding=1), relu(),
            nn.ConvTranspose2d(f, fh, 4, stride=2, padding=1), relu(),
        )
        self.head = nn.Conv2d(fh, channels, 3, padding=1)
        self.channels, self.features = channels, features

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """The hidden representation z = f(x~) of a batch whose sides are multiples of 4."""
        return self.encoder(x)

    def run(self, noisy: torch.Tensor, head: nn.Module | None = None) -> dict[str, torch.Tensor]:
        """``{"out": clean estimate}``; ``head`` replaces the output layer (task heads of strategy 2)."""
        x, (h, w) = pad_to_multiple(noisy, DAE_STRIDE)
        feats = self.decoder(self.encoder(x))
        out = (head or self.head)(feats)
        return {"out": out[..., :h, :w]}

    def forward(self, noisy: torch.Tensor) -> torch.Tensor:
        """Clean estimate of an (N, C, H, W) batch."""
        return self.run(noisy)["out"]

"""Paper 001 networks (method-specs 4(a)): the multi-task restoration net, the Chi et al. parallel-head baseline and
the mask generation net, all bias-free 3x3 convolutions without normalisation.

- ``RestorationNet`` (``ttaid_restoration``): shallow conv 3->32, a 3-level encoder/decoder of residual blocks
  (32/48/64 channels, bilinear x0.5 / x2 resampling followed by 1x1 convs, additive skips), then the primary head
  (2 residual blocks + conv 32->3 = the residual r; clean estimate = r + input) and, after it, the auxiliary head
  on concat(clean estimate, r) (conv 6->32, 1 residual block, conv 32->3 = the reconstructed noisy image).
  603,360 parameters; the heads 58,752 (primary 37,728 + auxiliary 21,024).
- ``ChiNet`` (``ttaid_chi``): Table 1's "Chi et al. 2021 architecture" as the authors ran it: TTAID's
  ``RestorationNetV0`` (commit bd4eec9 switched the model builder to it for that row; 1725375 switched back for
  "Ours + L_Rec"). The same body and primary head; the auxiliary path is conv 32->32 on the decoder features,
  concatenated with the primary residual r, conv 35->32, 1 residual block, conv 32->3. 620,928 parameters (the
  auxiliary path 38,592). Its convs sit under ``auxiliary_head`` here, so they adapt with the heads.
- ``MaskNet`` (``ttaid_mask``): conv 3->32, 3 residual blocks sharing ONE PReLU parameter, conv 32->1, sigmoid.
  56,449 parameters.
- ``MetaTTANet``: the two networks of one model (``net`` and ``mask``), one state dict.

Every forward is functional-friendly: :func:`torch.func.functional_call` substitutes any subset of parameters by
name (``net.primary_head.0.body.0.weight`` ...), which is how the meta-learning stages take look-ahead steps.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from denoisebench.models import MODELS

#: Parameter-name prefixes (inside :class:`RestorationNet`) of the heads adapted in the inner loop / at meta-test.
HEAD_PREFIXES = ("primary_head.", "auxiliary_head.")


def conv(cin: int, cout: int, kernel: int = 3) -> nn.Conv2d:
    """A bias-free, same-padded convolution."""
    return nn.Conv2d(cin, cout, kernel, padding=kernel // 2, bias=False)


class ResBlock(nn.Module):
    """conv - act - conv + identity."""

    def __init__(self, channels: int, act: nn.Module) -> None:
        super().__init__()
        self.body = nn.Sequential(conv(channels, channels), act, conv(channels, channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


def _blocks(channels: int, count: int) -> nn.Sequential:
    return nn.Sequential(*(ResBlock(channels, nn.ReLU()) for _ in range(count)))


class Body(nn.Module):
    """Shallow conv + 3-level encoder/decoder with additive skips; returns the full-resolution decoder features."""

    def __init__(self, in_channels: int = 3, base: int = 32, step: int = 16) -> None:
        super().__init__()
        c1, c2, c3 = base, base + step, base + 2 * step
        self.shallow = conv(in_channels, c1)
        self.enc1, self.enc2, self.enc3 = _blocks(c1, 2), _blocks(c2, 2), _blocks(c3, 2)
        self.down12, self.down23 = conv(c1, c2, 1), conv(c2, c3, 1)
        self.dec3, self.dec2, self.dec1 = _blocks(c3, 2), _blocks(c2, 2), _blocks(c1, 2)
        self.up32, self.up21 = conv(c3, c2, 1), conv(c2, c1, 1)

    @staticmethod
    def _resize(x: torch.Tensor, like: torch.Tensor | None = None) -> torch.Tensor:
        if like is None:
            return F.interpolate(x, scale_factor=0.5, mode="bilinear", align_corners=False)
        return F.interpolate(x, size=like.shape[-2:], mode="bilinear", align_corners=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        e1 = self.enc1(self.shallow(x))
        e2 = self.enc2(self.down12(self._resize(e1)))
        e3 = self.enc3(self.down23(self._resize(e2)))
        d2 = self.dec2(self.up32(self._resize(self.dec3(e3), e2)) + e2)
        return self.dec1(self.up21(self._resize(d2, e1)) + e1)


class RestorationNet(nn.Module):
    """The paper's multi-task network (sequential heads). ``forward`` returns (clean estimate, reconstructed noisy)."""

    def __init__(self, channels: int = 3, base: int = 32, step: int = 16) -> None:
        super().__init__()
        self.body = Body(channels, base, step)
        self.primary_head = nn.Sequential(ResBlock(base, nn.ReLU()), ResBlock(base, nn.ReLU()), conv(base, channels))
        self.auxiliary_head = nn.Sequential(conv(2 * channels, base), ResBlock(base, nn.ReLU()), conv(base, channels))

    def forward(self, x: torch.Tensor, feat: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """(clean estimate, reconstructed noisy) of ``x``; ``feat``: the body's features of ``x`` if already known."""
        residual = self.primary_head(self.body(x) if feat is None else feat)
        clean = x + residual
        return clean, self.auxiliary_head(torch.cat([clean, residual], dim=1))


class ChiAuxiliaryHead(nn.Module):
    """TTAID ``RestorationNetV0``'s auxiliary path: conv(features) ++ residual -> conv 35->32 -> block -> conv."""

    def __init__(self, channels: int = 3, base: int = 32) -> None:
        super().__init__()
        self.pre = conv(base, base)
        self.join = conv(base + channels, base)
        self.out = nn.Sequential(ResBlock(base, nn.ReLU()), conv(base, channels))

    def forward(self, feat: torch.Tensor, residual: torch.Tensor) -> torch.Tensor:
        return self.out(self.join(torch.cat([self.pre(feat), residual], dim=1)))


class ChiNet(nn.Module):
    """Table 1's Chi et al. baseline as the authors ran it (TTAID ``RestorationNetV0``)."""

    def __init__(self, channels: int = 3, base: int = 32, step: int = 16) -> None:
        super().__init__()
        self.body = Body(channels, base, step)
        self.primary_head = nn.Sequential(ResBlock(base, nn.ReLU()), ResBlock(base, nn.ReLU()), conv(base, channels))
        self.auxiliary_head = ChiAuxiliaryHead(channels, base)

    def forward(self, x: torch.Tensor, feat: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """(clean estimate, reconstructed noisy) of ``x``; ``feat``: the body's features of ``x`` if already known."""
        feat = self.body(x) if feat is None else feat
        residual = self.primary_head(feat)
        return x + residual, self.auxiliary_head(feat, residual)


class MaskNet(nn.Module):
    """Mask generation network: a 1-channel sigmoid mask (broadcast over RGB by the losses)."""

    def __init__(self, channels: int = 3, base: int = 32, blocks: int = 3) -> None:
        super().__init__()
        act = nn.PReLU()  # one parameter, shared by every block (the same module instance)
        self.net = nn.Sequential(conv(channels, base), *(ResBlock(base, act) for _ in range(blocks)), conv(base, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.net(x))


#: Multi-task architectures: name -> class (``architecture`` of the method config).
ARCHITECTURES: dict[str, type[nn.Module]] = {"sequential": RestorationNet, "chi": ChiNet}


class MetaTTANet(nn.Module):
    """Multi-task net ``net`` and mask net ``mask`` of one model; calling it returns the clean estimate."""

    def __init__(self, architecture: str = "sequential", channels: int = 3) -> None:
        super().__init__()
        self.net = ARCHITECTURES[architecture](channels)
        self.mask = MaskNet(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)[0]

    def head_names(self) -> list[str]:
        """Names (in ``named_parameters`` of this module) of the 9 head weight tensors."""
        return [f"net.{n}" for n, _ in self.net.named_parameters() if n.startswith(HEAD_PREFIXES)]


MODELS.add("ttaid_restoration", RestorationNet)
MODELS.add("ttaid_chi", ChiNet)
MODELS.add("ttaid_mask", MaskNet)
MODELS.add("meta_tta", MetaTTANet)

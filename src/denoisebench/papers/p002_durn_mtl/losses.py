"""The DuRN training loss, L = 0.75 L1 + 1.1 (1 - SSIM) (method-specs 5(b) [choice]: the DuRN code's loss; the paper
defers its loss to the supplementary material)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

WINDOW, SIGMA = 11, 1.5
L1_WEIGHT, SSIM_WEIGHT = 0.75, 1.1


def _window(channels: int, like: torch.Tensor) -> torch.Tensor:
    x = torch.arange(WINDOW, dtype=like.dtype, device=like.device) - (WINDOW - 1) / 2
    g = torch.exp(-(x**2) / (2 * SIGMA**2))
    g = g / g.sum()
    return (g[:, None] * g[None, :]).expand(channels, 1, WINDOW, WINDOW).contiguous()


def ssim(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Differentiable mean SSIM of (N, C, H, W) images in [0, 1]: 11x11 Gaussian window (sigma 1.5) per channel,
    zero 'same' padding as in ``pytorch_ssim`` (the DuRN training code), K1 = 0.01, K2 = 0.03."""
    c = x.shape[1]
    w = _window(c, x)
    pad = WINDOW // 2

    def conv(t: torch.Tensor) -> torch.Tensor:
        return F.conv2d(t, w, padding=pad, groups=c)

    mu_x, mu_y = conv(x), conv(y)
    sxx = conv(x * x) - mu_x**2
    syy = conv(y * y) - mu_y**2
    sxy = conv(x * y) - mu_x * mu_y
    c1, c2 = 0.01**2, 0.03**2
    num = (2 * mu_x * mu_y + c1) * (2 * sxy + c2)
    den = (mu_x**2 + mu_y**2 + c1) * (sxx + syy + c2)
    return (num / den).mean()


def durn_loss(restored: torch.Tensor, clean: torch.Tensor, l1_weight: float = L1_WEIGHT,
              ssim_weight: float = SSIM_WEIGHT) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """``l1_weight * L1 + ssim_weight * (1 - SSIM)`` and its parts (for the logs)."""
    l1 = F.l1_loss(restored, clean)
    s = ssim(restored, clean)
    loss = l1_weight * l1 + ssim_weight * (1.0 - s)
    return loss, {"loss": loss.detach(), "l1": l1.detach(), "ssim": s.detach()}

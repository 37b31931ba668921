"""T-standout (Blind2Grad eq. 3.11): dropout that never drops units on strong image gradients.

A Bernoulli drop mask (rate ``p``, 0.3 as Self2Self's dropout) is drawn for the decoder features, then every unit
whose position has a guide-image gradient magnitude ``|dx| + |dy| >= eps_s`` (0-255 units, 25) is re-selected
(``eta = 1``: kept). The guide is the network's previous prediction ``f(Omega_m(y))`` (detached; the most recent
one available when the layer runs), broadcast to the feature resolution by max-pooling so that a coarse unit is
protected when any of its pixels lies on an edge. Kept, unprotected units are scaled by ``1/(1-p)`` (inverted
dropout), so the expectation of every unit equals its input. In eval mode the layer is the identity.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from denoisebench.errors import ConfigError
from denoisebench.papers.p003_blind2grad.losses import gradient_magnitude


def guide_gradient(guide: torch.Tensor) -> torch.Tensor:
    """Gradient magnitude map (N, 1, H, W) in 0-255 units of a [0, 1] guide image (max over channels)."""
    return (gradient_magnitude(guide) * 255.0).amax(dim=1, keepdim=True)


class TStandout(nn.Module):
    """Threshold-based standout.

    Args:
        p: drop probability of unprotected units.
        eps_s: protection threshold on the guide's gradient magnitude (0-255 units); None disables protection
            (plain dropout, the "without T-standout" ablation uses ``enabled=False`` for no dropout at all, or
            ``eps_s=None`` for Self2Self's dropout).
        enabled: False turns the layer into the identity in training too.
    """

    def __init__(self, p: float = 0.3, eps_s: float | None = 25.0, enabled: bool = True) -> None:
        super().__init__()
        if not isinstance(p, (int, float)) or isinstance(p, bool) or not 0.0 <= p < 1.0:
            raise ConfigError(f"T-standout: p={p!r} must be a number in [0, 1)")
        self.p, self.eps_s, self.enabled = float(p), eps_s, enabled
        self.generator: torch.Generator | None = None
        self.last_protected_fraction: float | None = None

    def protection(self, guide_grad: torch.Tensor | None, size: tuple[int, int]) -> torch.Tensor | None:
        """1 where units at feature resolution ``size`` are protected, from a full-resolution gradient map."""
        if guide_grad is None or self.eps_s is None:
            return None
        strong = (guide_grad >= self.eps_s).to(guide_grad.dtype)
        if tuple(strong.shape[-2:]) != tuple(size):
            strong = F.adaptive_max_pool2d(strong, size)
        return strong

    def forward(self, x: torch.Tensor, guide_grad: torch.Tensor | None = None) -> torch.Tensor:  # type: ignore[override]
        if not self.training or not self.enabled or self.p == 0.0:
            return x
        u = torch.rand(x.shape, generator=self.generator).to(x.device)
        keep = (u >= self.p).to(x.dtype) / (1.0 - self.p)
        protected = self.protection(guide_grad, tuple(x.shape[-2:]))
        if protected is not None:
            self.last_protected_fraction = float(protected.mean())
            keep = protected + (1.0 - protected) * keep
        return x * keep

"""Blind2Grad's gradient-regularised loss (eqs. 1.1, 3.4-3.9) and the masked MSE of Self2Self.

Definitions (``keep`` = 1 visible, 0 masked; losses live on the masked positions):
- ``d_c = f(Omega(y)) - y``: the uniform (content) difference, evaluated on masked pixels (eq. 1.1).
- ``d_g = grad f(y) - grad f(Omega(y))``: the gradient deviation (eq. 3.4); ``grad`` is the horizontal and vertical
  forward difference (the ``H(W-1) + (H-1)W`` terms of the complexity analysis, eq. 3.15). Per pixel,
  ``|d_g|_i = |d_gx|_i + |d_gy|_i`` with the differences anchored at their left/top pixel and zero past the last
  column/row, so it lives on the image grid and is masked with that pixel's mask bit.
- Eq. 3.9: ``L = ||(|d_c| + omega |d_g|)||^2_Omega + gamma ||d_c||^2_Omega``, each squared norm normalised by the
  number of masked elements (Self2Self's ``mask_loss``).
"""

from __future__ import annotations

import torch


def forward_differences(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Horizontal and vertical forward differences of (N, C, H, W), zero-padded to (N, C, H, W)."""
    gx = torch.zeros_like(x)
    gy = torch.zeros_like(x)
    gx[..., :, :-1] = x[..., :, 1:] - x[..., :, :-1]
    gy[..., :-1, :] = x[..., 1:, :] - x[..., :-1, :]
    return gx, gy


def gradient_magnitude(x: torch.Tensor) -> torch.Tensor:
    """``|dx| + |dy|`` per element (N, C, H, W)."""
    gx, gy = forward_differences(x)
    return gx.abs() + gy.abs()


def gradient_deviation(full: torch.Tensor, masked_out: torch.Tensor) -> torch.Tensor:
    """``|d_g|`` per element: ``|dx f(y) - dx f(Omega y)| + |dy f(y) - dy f(Omega y)|``."""
    fx, fy = forward_differences(full)
    mx, my = forward_differences(masked_out)
    return (fx - mx).abs() + (fy - my).abs()


def masked_mean(values: torch.Tensor, masked: torch.Tensor) -> torch.Tensor:
    """Sum of ``values`` over masked positions divided by the number of masked elements (>= 1)."""
    weight = masked.expand_as(values)
    return (values * weight).sum() / weight.sum().clamp(min=1.0)


def masked_mse(output: torch.Tensor, target: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
    """Self2Self's loss: squared error on the masked positions, normalised by their number."""
    return masked_mean((output - target) ** 2, 1.0 - keep)


def blind2grad_loss(masked_out: torch.Tensor, full_out: torch.Tensor, noisy: torch.Tensor, keep: torch.Tensor,
                    omega: float = 0.8, gamma: float = 0.5) -> tuple[torch.Tensor, dict[str, float]]:
    """Eq. 3.9 for one mask.

    Args:
        masked_out: ``f(Omega(y))`` (N, C, H, W), with gradient.
        full_out: ``f(y)``, detached by the caller for the stop-gradient choice or not.
        noisy: ``y``.
        keep: the mask (1 visible, 0 masked), 1 or C channels.
        omega: weight of the gradient term (0.8 synthetic, 0.5 real).
        gamma: penalty weight of the content term (0.5).

    Returns:
        The scalar loss and its logged parts (``content``: ``||d_c||^2_Omega``, ``gradient``:
        ``||d_g||^2_Omega``, ``loss``).
    """
    masked = 1.0 - keep
    d_c = masked_out - noisy
    d_g = gradient_deviation(full_out, masked_out)
    combined = masked_mean((d_c.abs() + omega * d_g) ** 2, masked)
    content = masked_mean(d_c**2, masked)
    loss = combined + gamma * content
    logs = {"loss": float(loss.detach()), "content": float(content.detach()),
            "gradient": float(masked_mean(d_g.detach() ** 2, masked))}
    return loss, logs

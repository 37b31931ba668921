"""Paper 001 losses (eqs. 1-3; method-specs 4(b)). Every loss is a mean over all elements, as the code's L1Loss.

- :func:`primary_loss`: L_Pri = mean |clean estimate - ground truth|.
- :func:`masked_reconstruction`: L_Aux = L_MaskRec = mean(|reconstructed noisy - noisy| * M), the 1-channel mask
  broadcast over RGB, the mean over every element (not over the mask support). ``binarize=True`` thresholds the
  mask at 0.5 (the official code's meta-test; training uses the soft sigmoid mask).
- :func:`reconstruction`: L_Rec = mean |reconstructed noisy - noisy| (the unmasked "RL" ablation and Table 1's
  L_Aux = L_Rec rows).
- :func:`gradient_loss`: L_G = L1(|d_x M|, |d_x I_n|) + L1(|d_y M|, |d_y I_n|) on absolute forward differences
  (the code takes absolute values first; eq. 3 shows the differences themselves), weighted by lambda_G = 0.01 in
  Stage 1's mask update.
"""

from __future__ import annotations

import torch

#: lambda_G of the paper (Sec. 4.1).
LAMBDA_G = 0.01
#: Auxiliary losses: ``mrl`` (masked reconstruction, the paper's) and ``rl`` (unmasked, the RL ablation).
AUX_KINDS = ("mrl", "rl")


def primary_loss(clean_pred: torch.Tensor, clean: torch.Tensor) -> torch.Tensor:
    """Eq. 1 as the code computes it: the mean absolute error."""
    return (clean_pred - clean).abs().mean()


def binarize_mask(mask: torch.Tensor, threshold: float = 0.5) -> torch.Tensor:
    """1 where ``mask > threshold`` else 0 (no gradient flows through it)."""
    return (mask > threshold).to(mask.dtype)


def masked_reconstruction(noisy_pred: torch.Tensor, noisy: torch.Tensor, mask: torch.Tensor,
                          binarize: bool = False) -> torch.Tensor:
    """Eq. 2: mean over all elements of |noisy_pred - noisy| * mask (mask (N, 1, H, W) broadcast over channels)."""
    if mask.shape[1] != 1 or mask.shape[-2:] != noisy.shape[-2:]:
        raise ValueError(f"mask of shape {tuple(mask.shape)} must be (N, 1, H, W) for images {tuple(noisy.shape)}")
    if binarize:
        mask = binarize_mask(mask)
    return ((noisy_pred - noisy).abs() * mask).mean()


def reconstruction(noisy_pred: torch.Tensor, noisy: torch.Tensor) -> torch.Tensor:
    """The unmasked reconstruction loss L_Rec (RL ablation)."""
    return (noisy_pred - noisy).abs().mean()


def _abs_diffs(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Absolute forward differences along width (x) and height (y)."""
    return (x[..., :, 1:] - x[..., :, :-1]).abs(), (x[..., 1:, :] - x[..., :-1, :]).abs()


def gradient_loss(mask: torch.Tensor, noisy: torch.Tensor) -> torch.Tensor:
    """Eq. 3 as the code computes it: L1 between the absolute gradients of the mask and of the noisy image."""
    mx, my = _abs_diffs(mask)
    nx, ny = _abs_diffs(noisy)
    return (mx - nx).abs().mean() + (my - ny).abs().mean()


def auxiliary_loss(kind: str, noisy_pred: torch.Tensor, noisy: torch.Tensor, mask: torch.Tensor,
                   binarize: bool = False) -> torch.Tensor:
    """L_Aux of the given kind (``mrl`` or ``rl``)."""
    if kind == "mrl":
        return masked_reconstruction(noisy_pred, noisy, mask, binarize)
    if kind == "rl":
        return reconstruction(noisy_pred, noisy)
    raise ValueError(f"auxiliary loss {kind!r} is not one of mrl, rl")



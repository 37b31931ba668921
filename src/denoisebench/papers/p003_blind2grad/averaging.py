"""Averaging of stochastic forward passes (Self2Self's 100 predictions, Blind2Grad's "calling it 40 times")."""

from __future__ import annotations

from collections.abc import Callable

import torch


@torch.no_grad()
def average_passes(one_pass: Callable[[int], torch.Tensor], n: int) -> torch.Tensor:
    """Mean of ``one_pass(k)`` for k = 0..n-1 (each a tensor of one shape), accumulated in float64."""
    if n < 1:
        raise ValueError(f"average_passes: n={n} must be >= 1")
    total: torch.Tensor | None = None
    for k in range(n):
        out = one_pass(k).double()
        total = out if total is None else total + out
    assert total is not None
    return (total / n).float()

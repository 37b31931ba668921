"""Initialisation of DnCNN and FFDNet (the authors' code): training starts near the noisy input, not far below it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from denoisebench.models.dncnn import BN_SCALE_MIN, DnCNN
from denoisebench.models.ffdnet import FFDNet


def noisy_patches(shared_data: Path, dataset: str, seed: int, n: int = 16, size: int = 40):
    """``n`` clean 40x40 patches of the first two test images and their AWGN sigma-25 copies, (N, C, H, W)."""
    from denoisebench.datasets import list_samples

    images = [s.clean() for s in list_samples(dataset, shared_data, limit=2)]
    rng = np.random.default_rng(seed)
    out = []
    for k in range(n):
        img = images[k % 2]
        y, x = rng.integers(0, img.shape[0] - size), rng.integers(0, img.shape[1] - size)
        out.append(img[y:y + size, x:x + size].transpose(2, 0, 1))
    clean = torch.from_numpy(np.stack(out))
    return clean + 25 / 255 * torch.randn(clean.shape, generator=torch.Generator().manual_seed(seed)), clean


def psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(10 * torch.log10(1 / ((a.clamp(0, 1) - b) ** 2).mean()))


@pytest.mark.parametrize("dataset, channels, depth", [("bsd68_gray", 1, 17), ("cbsd68", 3, 20)])
@pytest.mark.parametrize("seed", [0, 1])
def test_dncnn_starts_within_2db_of_the_noisy_input(shared_data: Path, dataset: str, channels: int, depth: int,
                                                    seed: int) -> None:
    """Training-mode forward (BN on batch statistics, as the first steps see it): the residual starts small.
    He-normal everywhere with unit BN scales started ~20 dB below the noisy input."""
    noisy, clean = noisy_patches(shared_data, dataset, seed)
    torch.manual_seed(seed)
    model = DnCNN(channels=channels, depth=depth).train()
    with torch.no_grad():
        out = model(noisy)
    assert abs(psnr(out, clean) - psnr(noisy, clean)) < 2.0


def test_dncnn_bn_scales_follow_the_authors_init() -> None:
    torch.manual_seed(0)
    scales = torch.cat([m.weight.detach() for m in DnCNN(channels=1).modules()
                        if isinstance(m, torch.nn.BatchNorm2d)])
    assert scales.abs().min() >= BN_SCALE_MIN
    assert 0.04 < scales.abs().mean() < 0.09  # N(0, 2/576) folded at 0.025: mean |g| ~0.05
    assert (scales < 0).any()  # signed, as in DnCNN_Init.m


def test_ffdnet_initial_output_does_not_explode(shared_data: Path) -> None:
    """FFDNet has no global residual, so it cannot start at the noisy input; KAIR's init (orthogonal gain 0.2,
    BN scales U(0.1, 1)) starts near a dark image (no worse than predicting zeros), not far below it."""
    noisy, clean = noisy_patches(shared_data, "cbsd68", 0)
    torch.manual_seed(0)
    model = FFDNet(channels=3).train()
    with torch.no_grad():
        out = model(noisy, 25 / 255)
    assert out.abs().max() < 2.0
    assert psnr(out, clean) > psnr(torch.zeros_like(clean), clean) - 0.5


def test_folded_layout_has_biases_and_no_bn() -> None:
    """batch_norm=False is the released models' layout: every conv biased, no BN; the default keeps BN."""
    folded = DnCNN(channels=1, depth=17, batch_norm=False)
    convs = [m for m in folded.modules() if isinstance(m, torch.nn.Conv2d)]
    assert len(convs) == 17 and all(c.bias is not None for c in convs)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in folded.modules())
    assert sum(isinstance(m, torch.nn.BatchNorm2d) for m in DnCNN(channels=1, depth=17).modules()) == 15

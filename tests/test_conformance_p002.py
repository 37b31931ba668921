"""Paper 002 held to the authors' code (``../shared/reference/``: 6272code/6272-code 6ac65a6 for DuRB-M and the
encoder, liu-vis/DualResidualNetworks 9e46eaa for the SSIM of its training loss): same weights in both, float64,
the max difference printed (``pytest -s``) and asserted.

Checked: DuRB-M (``pietorch/DuRBs.py`` ``DuRB_tv``) with each of the encoder's and the extra blocks' kernel
settings; the shared encoder (``N_modules.NormalHeadDown2`` followed by ``DuRB1``-``DuRB5`` as ``M_DuRN.EnDNet``
chains them); the SSIM of the loss (``pietorch/pytorch_ssim``) and the loss itself (``train/*.py``:
0.75 L1 - 1.1 SSIM, the benchmark's 0.75 L1 + 1.1 (1 - SSIM) minus the constant 1.1).
"""

from __future__ import annotations

import types

import pytest

import torch

from official_code import official_modules, reference_dir, report

from denoisebench.papers.p002_durn_mtl import losses
from denoisebench.papers.p002_durn_mtl.network import ENCODER_BLOCKS, EXTRA_BLOCKS, DuRBM, Encoder

reference_dir("6272-code")
reference_dir("DualResidualNetworks")
#: Modules the official files import for data handling and logging only (not installed here).
STUBS = {name: types.ModuleType(name) for name in ("cv2", "visdom", "torchvision", "torchvision.transforms")}
STUBS["visdom"].Visdom = object
STUBS["torchvision"].transforms = STUBS["torchvision.transforms"]


def _copy(official: list[torch.nn.Parameter], ours: torch.nn.Module) -> None:
    """Random weights into the official parameters, the same into ours, in registration order (same shapes)."""
    mine = list(ours.parameters())
    assert len(official) == len(mine)
    torch.manual_seed(0)
    with torch.no_grad():
        for a, b in zip(official, mine):
            assert a.shape == b.shape, (a.shape, b.shape)
            a.normal_(std=0.05)
            b.copy_(a)


def _max(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a.detach() - b.detach()).abs().max())


@pytest.mark.parametrize("k1,k2,dilation", sorted(set(ENCODER_BLOCKS + EXTRA_BLOCKS)))
def test_durb_m_equals_the_official_durb_tv(k1: int, k2: int, dilation: int) -> None:
    with official_modules("6272-code", "pietorch.DuRBs", stubs=STUBS) as (durbs,):
        official = durbs.DuRB_tv(96, 96, 64, k1_size=k1, k2_size=k2, dilation=dilation).double()
    ours = DuRBM(k1, k2, dilation).double()
    _copy(list(official.parameters()), ours)
    g = torch.Generator().manual_seed(1)
    x = torch.rand(2, 96, 12, 12, generator=g, dtype=torch.float64)
    res = torch.rand(2, 64, 24, 24, generator=g, dtype=torch.float64)
    (x1, r1), (x2, r2) = official(x.clone(), res.clone()), ours(x, res)
    assert report(f"DuRB-M k1={k1} k2={k2} d={dilation} (out, res)", max(_max(x1, x2), _max(r1, r2))) <= 1e-12


def test_encoder_equals_the_official_head_and_five_durb_ms() -> None:
    with official_modules("6272-code", "pietorch.N_modules", "pietorch.DuRBs", stubs=STUBS) as (mods, durbs):
        head = mods.NormalHeadDown2().double()
        blocks = [durbs.DuRB_tv(96, 96, 64, k1_size=k1, k2_size=k2, dilation=d).double()
                  for k1, k2, d in ENCODER_BLOCKS]
    ours = Encoder().double()
    _copy([p for m in (head, *blocks) for p in m.parameters()], ours)
    x = torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    feats, res = head(x)
    for block in blocks:
        feats, res = block(feats, res)
    mine, mine_res = ours(x)
    assert report("encoder (NormalHeadDown2 + DuRB1-5), features and res",
                  max(_max(feats, mine), _max(res, mine_res))) <= 1e-12


def test_ssim_and_loss_equal_the_official_training_loss() -> None:
    with official_modules("DualResidualNetworks", "pietorch.pytorch_ssim", stubs=STUBS) as (pssim,):
        g = torch.Generator().manual_seed(3)
        clean = torch.rand(2, 3, 24, 24, generator=g, dtype=torch.float64)
        restored = (clean + 0.1 * torch.randn(2, 3, 24, 24, generator=g, dtype=torch.float64)).requires_grad_(True)
        theirs = pssim.ssim(restored, clean)
        official_loss = -1.1 * theirs + 0.75 * torch.nn.L1Loss()(restored, clean)  # train/haze.py and siblings
        (official_grad,) = torch.autograd.grad(official_loss, restored)
    mine = losses.ssim(restored, clean)
    loss, _ = losses.durn_loss(restored, clean)
    (grad,) = torch.autograd.grad(loss, restored)
    # the official window is built in float32 and then cast, so float64 agrees to float32's rounding of the kernel
    assert report("SSIM (pytorch_ssim)", _max(theirs, mine)) <= 1e-7
    assert report("loss 0.75 L1 + 1.1 (1 - SSIM) - 1.1 vs official", _max(official_loss, loss - 1.1)) <= 1e-7
    assert report("loss gradient", _max(official_grad, grad)) <= 1e-9

"""The sub-task losses of seed 000 (method-specs 3(b)): MSE, 1 - SSIM, and the residual's distance to N(0, 1).

Every task loss has the signature ``loss(out, clean, noisy) -> scalar`` and is registered in
:data:`TASK_LOSSES` ("mse", "ssim", "kl", and the ablation "kl_moments").

- SSIM is the Wang et al. index with the metric module's window (Gaussian 11x11, sigma 1.5, K1 0.01, K2 0.03,
  "valid" region, per channel then averaged; :mod:`denoisebench.metrics`), computed differentiably on [0, 1]
  data (L = 1). The paper's exponents alpha = beta = gamma = 1 and C3 = C2/2 make it the usual closed form.
- The residual is e = y - x-hat (noisy input minus the denoised output). The paper's KL(p || q) with p = N(0, 1)
  and q the distribution of e is estimated as method-specs 3(b) prescribes: e is standardised per image, q is a
  Gaussian KDE (bandwidth 0.2) on 101 grid points over [-5, 5], and KL = sum p (log p - log(q + 1e-8)) dx.
  The KDE is evaluated exactly ("exact", O(pixels x grid) memory) or, by default, through linear binning on a
  grid 5x finer followed by a Gaussian convolution ("binned", O(pixels) memory; within ~1e-4 of "exact" for Gaussian and
  Laplacian residuals, ~10% off only where q falls to ~0 inside the grid, e.g. a uniform residual's tails).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F

from denoisebench.registry import Registry

TaskLoss = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]
TASK_LOSSES: Registry[TaskLoss] = Registry("task loss")

SSIM_SIZE, SSIM_SIGMA, SSIM_K1, SSIM_K2 = 11, 1.5, 0.01, 0.03
KL_GRID_POINTS, KL_GRID_LIMIT, KL_BANDWIDTH, KL_EPS = 101, 5.0, 0.2, 1e-8


# ---------------------------------------------------------------------------------------------------------------
# SSIM


def gaussian_window(size: int = SSIM_SIZE, sigma: float = SSIM_SIGMA, dtype: torch.dtype = torch.float32,
                    device: torch.device | str = "cpu") -> torch.Tensor:
    """Normalised 1-D Gaussian of ``size`` taps (outer product = MATLAB ``fspecial('gaussian')``)."""
    x = torch.arange(size, dtype=torch.float64) - (size - 1) / 2.0
    k = torch.exp(-(x**2) / (2.0 * sigma**2))
    return (k / k.sum()).to(dtype=dtype, device=device)


def _filter_valid(x: torch.Tensor, window: torch.Tensor) -> torch.Tensor:
    """Separable depthwise Gaussian filter of (N, C, H, W), 'valid' region only."""
    c = x.shape[1]
    kh = window.view(1, 1, -1, 1).expand(c, 1, -1, 1)
    kw = window.view(1, 1, 1, -1).expand(c, 1, 1, -1)
    return F.conv2d(F.conv2d(x, kw, groups=c), kh, groups=c)


def ssim_index(a: torch.Tensor, b: torch.Tensor, data_range: float = 1.0) -> torch.Tensor:
    """Per-image SSIM (N,) of two (N, C, H, W) batches: mean of the valid SSIM map, averaged over channels.

    H and W must be at least 11 (the window).
    """
    if a.shape != b.shape or a.ndim != 4:
        raise ValueError(f"ssim_index: need two (N, C, H, W) batches of one shape, got {tuple(a.shape)}, {tuple(b.shape)}")
    if min(a.shape[-2:]) < SSIM_SIZE:
        raise ValueError(f"ssim_index: images of {tuple(a.shape[-2:])} are smaller than the {SSIM_SIZE}x{SSIM_SIZE} window")
    a, b = a.float(), b.float()
    c1, c2 = (SSIM_K1 * data_range) ** 2, (SSIM_K2 * data_range) ** 2
    window = gaussian_window(dtype=a.dtype, device=a.device)
    n = a.shape[0]
    stats = _filter_valid(torch.cat([a, b, a * a, b * b, a * b], dim=0), window)
    mu_a, mu_b, e_aa, e_bb, e_ab = stats.split(n, dim=0)
    mu_ab, mu_aa, mu_bb = mu_a * mu_b, mu_a * mu_a, mu_b * mu_b
    num = (2.0 * mu_ab + c1) * (2.0 * (e_ab - mu_ab) + c2)
    den = (mu_aa + mu_bb + c1) * ((e_aa - mu_aa) + (e_bb - mu_bb) + c2)
    return (num / den).mean(dim=(1, 2, 3))


def ssim_loss(out: torch.Tensor, clean: torch.Tensor, noisy: torch.Tensor | None = None) -> torch.Tensor:
    """1 - SSIM(x-hat, x), averaged over the batch."""
    return 1.0 - ssim_index(out, clean).mean()


# ---------------------------------------------------------------------------------------------------------------
# Residual distribution distance


def standardize(residual: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """Per-image standardisation of (N, ...) to zero mean and unit std, flattened to (N, M)."""
    flat = residual.float().reshape(residual.shape[0], -1)
    mean = flat.mean(dim=1, keepdim=True)
    std = flat.std(dim=1, keepdim=True, unbiased=False)
    return (flat - mean) / (std + eps)


def kl_grid(device: torch.device | str = "cpu") -> tuple[torch.Tensor, torch.Tensor, float]:
    """The evaluation grid (101 points on [-5, 5]), log N(0, 1) on it, and its spacing."""
    grid = torch.linspace(-KL_GRID_LIMIT, KL_GRID_LIMIT, KL_GRID_POINTS, device=device)
    log_p = -0.5 * grid**2 - 0.5 * math.log(2.0 * math.pi)
    return grid, log_p, 2.0 * KL_GRID_LIMIT / (KL_GRID_POINTS - 1)


def kde_exact(samples: torch.Tensor, grid: torch.Tensor, bandwidth: float = KL_BANDWIDTH) -> torch.Tensor:
    """Gaussian KDE of each row of (N, M) samples at ``grid`` (G,): (N, G). Memory O(N M G)."""
    z = (grid.view(1, 1, -1) - samples.unsqueeze(-1)) / bandwidth
    return torch.exp(-0.5 * z * z).mean(dim=1) / (bandwidth * math.sqrt(2.0 * math.pi))


def kde_binned(samples: torch.Tensor, grid: torch.Tensor, bandwidth: float = KL_BANDWIDTH,
               refine: int = 5) -> torch.Tensor:
    """Gaussian KDE at a uniform ``grid`` by linear binning on a ``refine``-times finer grid plus a convolution.

    Each sample splits its unit mass between its two neighbouring fine bins in proportion to its distance
    (differentiable in the sample). Fine bins extend 4 bandwidths beyond the grid; samples further out add less
    than exp(-8) of a kernel peak to the grid and are dropped (they still count in the normaliser).
    """
    n, m = samples.shape
    step = float(grid[1] - grid[0]) / refine
    margin = int(math.ceil(4.0 * bandwidth / step))
    lo = float(grid[0]) - margin * step
    bins = (grid.numel() - 1) * refine + 1 + 2 * margin
    pos = (samples - lo) / step
    inside = (pos >= 0) & (pos <= bins - 1)
    pos = pos.clamp(0, bins - 1 - 1e-4)
    left = pos.floor()
    frac = pos - left
    left = left.long()
    rows = torch.arange(n, device=samples.device).unsqueeze(1) * bins
    mass = torch.zeros(n * bins, dtype=samples.dtype, device=samples.device)
    keep = inside.to(samples.dtype)
    mass = mass.index_add(0, (rows + left).reshape(-1), ((1.0 - frac) * keep).reshape(-1))
    mass = mass.index_add(0, (rows + left + 1).reshape(-1), (frac * keep).reshape(-1))
    taps = torch.arange(-margin, margin + 1, device=samples.device, dtype=samples.dtype) * step
    kernel = torch.exp(-0.5 * (taps / bandwidth) ** 2) / (bandwidth * math.sqrt(2.0 * math.pi))
    dens = F.conv1d(mass.view(n, 1, bins), kernel.view(1, 1, -1), padding=margin).view(n, bins) / m
    return dens[:, margin: bins - margin: refine]


KDE_METHODS: dict[str, Callable[..., torch.Tensor]] = {"binned": kde_binned, "exact": kde_exact}


def kl_to_gaussian(residual: torch.Tensor, bandwidth: float = KL_BANDWIDTH, method: str = "binned") -> torch.Tensor:
    """KL(N(0,1) || q) per image (N,), q the KDE of the standardised residual (method-specs 3(b))."""
    if method not in KDE_METHODS:
        raise ValueError(f"kl_to_gaussian: method={method!r} is not one of {', '.join(KDE_METHODS)}")
    e = standardize(residual)
    grid, log_p, dx = kl_grid(e.device)
    q = KDE_METHODS[method](e, grid, bandwidth)
    p = log_p.exp()
    return (p * (log_p - torch.log(q + KL_EPS))).sum(dim=1) * dx


def kl_loss(out: torch.Tensor, clean: torch.Tensor, noisy: torch.Tensor) -> torch.Tensor:
    """Batch mean of KL(N(0,1) || q(e)), e = noisy - out (the paper's distribution-distance task)."""
    return kl_to_gaussian(noisy - out).mean()


def kl_moments_loss(out: torch.Tensor, clean: torch.Tensor, noisy: torch.Tensor) -> torch.Tensor:
    """Ablation: KL(N(0,1) || N(mu_e, s_e^2)) with the residual's moments after dividing by its batch std.

    Only the shape-free moments matter after standardisation, so this is KL(N(0,1) || N(mu, s^2)) of the
    per-image mean/std relative to the batch's pooled std: it penalises biased or level-inconsistent residuals.
    """
    e = (noisy - out).float().reshape(out.shape[0], -1)
    scale = e.std(unbiased=False) + 1e-6
    mu = e.mean(dim=1) / scale
    var = (e.var(dim=1, unbiased=False) / scale**2).clamp_min(1e-8)
    return (0.5 * (torch.log(var) + (1.0 + mu**2) / var - 1.0)).mean()


def mse_loss(out: torch.Tensor, clean: torch.Tensor, noisy: torch.Tensor | None = None) -> torch.Tensor:
    """Mean squared error over all elements."""
    return F.mse_loss(out.float(), clean.float())


TASK_LOSSES.add("mse", mse_loss)
TASK_LOSSES.add("ssim", ssim_loss)
TASK_LOSSES.add("kl", kl_loss)
TASK_LOSSES.add("kl_moments", kl_moments_loss)

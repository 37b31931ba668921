"""Paper 000 (mtl_slw): DAE / CBDNet shapes and parameter counts, CBDNet's noise-map losses, the sub-task losses."""

from __future__ import annotations

import pytest
import torch

from denoisebench.metrics import Protocol, ssim
from denoisebench.models import build_model, count_parameters
from denoisebench.papers.p000_mtl_slw.cbdnet import asymmetric_loss, tv_loss
from denoisebench.papers.p000_mtl_slw.losses import TASK_LOSSES, kl_to_gaussian, ssim_index, ssim_loss

torch.set_num_threads(1)


def test_dae_shapes_and_parameter_count() -> None:
    model = build_model("dae")
    assert count_parameters(model) == 461_891  # method-specs 3(a) [derived]
    x = torch.rand(2, 3, 96, 96)
    assert model.encode(x).shape == (2, 128, 24, 24)
    assert model(x).shape == x.shape
    odd = torch.rand(1, 3, 37, 50)  # padded to a multiple of 4 and cropped back
    assert model(odd).shape == odd.shape


def test_cbdnet_shapes_and_parameter_counts() -> None:
    model = build_model("cbdnet")
    assert count_parameters(model) == 4_365_382
    assert count_parameters(model.estimator) == 29_507
    assert count_parameters(model.unet) + count_parameters(model.head) == 4_335_875
    x = torch.rand(2, 3, 30, 41)
    parts = model.run(x)
    assert parts["out"].shape == x.shape and parts["sigma"].shape == x.shape
    assert float(parts["sigma"].detach().min()) >= 0.0  # ReLU after CNN_E's last conv
    with torch.no_grad():
        model.head.weight.zero_()
        model.head.bias.zero_()
    assert torch.equal(model(x), x)  # global residual: y + CNN_D(...)


def test_cbdnet_asymmetric_and_tv_losses() -> None:
    sigma = torch.full((1, 3, 4, 4), 0.1)
    under, over = asymmetric_loss(sigma - 0.05, sigma), asymmetric_loss(sigma + 0.05, sigma)
    assert under.item() == pytest.approx(0.7 * 0.05**2, rel=1e-4)  # under-estimation weighted 1 - alpha
    assert over.item() == pytest.approx(0.3 * 0.05**2, rel=1e-4)
    assert tv_loss(sigma).item() == 0.0
    ramp = torch.arange(4.0).view(1, 1, 1, 4).expand(1, 1, 4, 4)
    assert tv_loss(ramp).item() == pytest.approx(1.0)


def test_ssim_loss_equals_metric_ssim_on_float_data() -> None:
    g = torch.Generator().manual_seed(0)
    clean = torch.rand(3, 3, 40, 48, generator=g)
    out = (clean + 0.1 * torch.randn(3, 3, 40, 48, generator=g)).clamp(0, 1)
    ours = ssim_index(out, clean)
    for i in range(3):
        ref = ssim(clean[i].permute(1, 2, 0).numpy(), out[i].permute(1, 2, 0).numpy(), Protocol(quant="float"))
        assert ours[i].item() == pytest.approx(ref, abs=1e-4)
    loss = ssim_loss(out.requires_grad_(), clean)
    loss.backward()
    assert out.grad is not None and torch.isfinite(out.grad).all()
    assert ssim_loss(clean, clean).item() == pytest.approx(0.0, abs=1e-6)


def test_kl_estimator_zero_for_gaussian_and_larger_otherwise() -> None:
    g = torch.Generator().manual_seed(1)
    shape = (2, 3, 48, 48)
    gauss = torch.randn(shape, generator=g) * 0.07 + 0.3  # any scale and offset: the residual is standardised
    laplace = torch.distributions.Laplace(0.0, 1.0).sample(shape)
    uniform = torch.rand(shape, generator=g)
    kl_g = kl_to_gaussian(gauss)
    assert float(kl_g.max()) < 0.005
    assert float(kl_to_gaussian(laplace).min()) > 5 * float(kl_g.max())
    assert float(kl_to_gaussian(uniform).min()) > 0.1
    # the binned KDE matches the exact one on smooth distributions
    for e in (gauss, laplace):
        assert torch.allclose(kl_to_gaussian(e, method="binned"), kl_to_gaussian(e, method="exact"), atol=2e-3)


def test_kl_loss_is_differentiable_in_the_output() -> None:
    clean = torch.rand(2, 3, 24, 24)
    noisy = clean + 0.1 * torch.distributions.Laplace(0.0, 1.0).sample(clean.shape)
    out = clean.clone().requires_grad_(True)
    TASK_LOSSES.get("kl")(out, clean, noisy).backward()
    assert out.grad is not None and torch.isfinite(out.grad).all() and float(out.grad.abs().sum()) > 0

"""Paper 003 (Blind2Grad) building blocks: masks, the eq. 3.9 loss on a hand-computed case, T-standout."""

from __future__ import annotations

import pytest
import torch

from denoisebench.errors import ConfigError, UnknownNameError
from denoisebench.papers.p003_blind2grad.losses import blind2grad_loss, gradient_deviation, masked_mse
from denoisebench.papers.p003_blind2grad.masks import MASKS, DualMask, build_mask
from denoisebench.papers.p003_blind2grad.tstandout import TStandout, guide_gradient

torch.set_num_threads(1)


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


# ---------------------------------------------------------------- masks
def test_registry_lists_the_three_masks() -> None:
    assert MASKS.names() == ["bernoulli", "dual", "uniform"]
    with pytest.raises(UnknownNameError, match="valid names: bernoulli, dual, uniform"):
        build_mask("checkerboard")


def test_bernoulli_rate_and_granularity() -> None:
    y = torch.rand(1, 3, 256, 256)
    s = build_mask("bernoulli", rate=0.25).sample(y, gen())
    assert s.keep.shape == (1, 1, 256, 256)
    assert abs(float(s.masked.mean()) - 0.25) < 0.01
    assert torch.equal(s.inputs, y * s.keep) and torch.equal(s.conv_mask, s.keep)
    e = build_mask("bernoulli", rate=0.25, granularity="element").sample(y, gen())
    assert e.keep.shape == (1, 3, 256, 256)
    # element masks differ across channels
    assert not torch.equal(e.keep[:, 0], e.keep[:, 1])


def test_dual_mask_without_estimate_is_bernoulli() -> None:
    y = torch.rand(1, 3, 128, 128)
    a = build_mask("dual").sample(y, gen(3))
    b = build_mask("bernoulli").sample(y, gen(3))
    assert torch.equal(a.keep, b.keep)


def test_dual_mask_follows_eps_g_rule() -> None:
    h = w = 256
    y = torch.full((1, 3, h, w), 0.5)
    estimate = y.clone()
    # left half: distance 50/255 on one channel (>= eps_g 40) -> detail; right half: 30/255 -> flat
    estimate[:, 1, :, : w // 2] -= 50 / 255
    estimate[:, 1, :, w // 2:] -= 30 / 255
    mask = DualMask(rate=0.25, eps_g=40.0, p_detail=0.10)
    probs = mask.probabilities(y, estimate)
    assert mask.last_detail_fraction == pytest.approx(0.5)
    assert torch.allclose(probs[..., : w // 2], torch.tensor(0.10))
    assert torch.allclose(probs[..., w // 2:], torch.tensor(0.40))  # (0.25 - 0.1*0.5) / 0.5
    s = mask.sample(y, gen(), estimate)
    masked = s.masked[0, 0]
    assert abs(float(masked[:, : w // 2].mean()) - 0.10) < 0.015
    assert abs(float(masked[:, w // 2:].mean()) - 0.40) < 0.015
    assert abs(float(masked.mean()) - 0.25) < 0.015
    # raising the threshold above 50 makes every pixel flat: plain rate 0.25
    assert torch.allclose(DualMask(eps_g=60.0).probabilities(y, estimate), torch.tensor(0.25))


def test_dual_mask_caps_flat_probability() -> None:
    y = torch.zeros(1, 1, 100, 100)
    estimate = torch.zeros_like(y)
    estimate[..., :90, :] = 1.0  # 90 % detail pixels
    probs = DualMask(p_flat_max=0.5).probabilities(y, estimate)
    assert float(probs[..., 95, 0]) == pytest.approx(0.5)
    assert float(probs[..., 0, 0]) == pytest.approx(0.10)


def test_uniform_mask_substitutes_neighbours() -> None:
    h, w = 32, 40
    y = torch.arange(h * w, dtype=torch.float32).view(1, 1, h, w)
    s = build_mask("uniform", rate=0.25).sample(y, gen(1))
    assert torch.equal(s.conv_mask, torch.ones_like(s.keep))
    masked = s.masked[0, 0].bool()
    assert abs(float(masked.float().mean()) - 0.25) < 0.04
    vals = s.inputs[0, 0][masked].long()
    rows, cols = torch.nonzero(masked, as_tuple=True)
    src_r, src_c = vals // w, vals % w
    assert bool(((src_r != rows) | (src_c != cols)).all())  # never the pixel itself
    assert int((src_r - rows).abs().max()) <= 2 and int((src_c - cols).abs().max()) <= 2
    assert torch.equal(s.inputs[0, 0][~masked], y[0, 0][~masked])


@pytest.mark.parametrize("kwargs", [{"rate": 0.0}, {"rate": 1.2}, {"granularity": "channel"}])
def test_mask_config_errors(kwargs: dict) -> None:
    with pytest.raises(ConfigError):
        build_mask("bernoulli", **kwargs)


def test_dual_mask_config_errors() -> None:
    with pytest.raises(ConfigError, match="p_detail"):
        DualMask(p_detail=0.3)
    with pytest.raises(ConfigError, match="eps_g"):
        DualMask(eps_g=-1)


# ---------------------------------------------------------------- loss (eq. 3.9)
def test_loss_matches_hand_computation() -> None:
    y = torch.tensor([[[[0.1, 0.0], [0.0, 0.0]]]])
    out = torch.tensor([[[[0.5, 0.2], [0.1, 0.3]]]], requires_grad=True)
    full = torch.full((1, 1, 2, 2), 0.4)
    keep = torch.tensor([[[[0.0, 1.0], [1.0, 1.0]]]])  # only pixel (0, 0) masked
    # d_c = 0.5 - 0.1 = 0.4; d_g = |0 - (0.2-0.5)| + |0 - (0.1-0.5)| = 0.7
    # (0.4 + 0.8*0.7)^2 + 0.5 * 0.4^2 = 0.9216 + 0.08
    loss, logs = blind2grad_loss(out, full, y, keep, omega=0.8, gamma=0.5)
    assert float(loss.detach()) == pytest.approx(1.0016, abs=1e-6)
    assert logs["content"] == pytest.approx(0.16) and logs["gradient"] == pytest.approx(0.49)
    loss.backward()
    assert out.grad is not None and float(out.grad.abs().sum()) > 0


def test_loss_without_gradient_term_is_scaled_masked_mse() -> None:
    g = gen(2)
    y, out, full = (torch.rand(1, 3, 16, 16, generator=g) for _ in range(3))
    keep = (torch.rand(1, 1, 16, 16, generator=g) > 0.25).float()
    loss, _ = blind2grad_loss(out, full, y, keep, omega=0.0, gamma=0.5)
    assert float(loss.detach()) == pytest.approx(1.5 * float(masked_mse(out, y, keep)), rel=1e-6)
    assert float(gradient_deviation(out, out).abs().max()) == 0.0


# ---------------------------------------------------------------- T-standout
def test_tstandout_eval_is_identity_and_train_drops() -> None:
    layer = TStandout(p=0.3, eps_s=25.0)
    layer.generator = gen(0)
    x = torch.ones(1, 8, 64, 64)
    layer.eval()
    assert torch.equal(layer(x), x)
    layer.train()
    out = layer(x)
    dropped = float((out == 0).float().mean())
    assert abs(dropped - 0.3) < 0.02
    assert torch.allclose(out[out != 0], torch.tensor(1 / 0.7))


def test_tstandout_protects_strong_gradients() -> None:
    layer = TStandout(p=0.3, eps_s=25.0).train()
    layer.generator = gen(0)
    x = torch.ones(1, 4, 32, 32)
    guide = torch.zeros(1, 3, 32, 32)
    guide[..., :, 16:] = 1.0  # a vertical edge between columns 15 and 16 (255 levels)
    grad = guide_gradient(guide)
    assert float(grad[0, 0, 0, 15]) == pytest.approx(255.0) and float(grad[0, 0, 0, 3]) == 0.0
    out = layer(x, grad)
    assert torch.equal(out[..., 15], x[..., 15])  # protected column: never dropped, not rescaled
    assert float((out[..., :8] == 0).float().mean()) > 0.2
    assert layer.last_protected_fraction == pytest.approx(1 / 32)
    # at half resolution the edge column maps to column 7 (max-pooled protection)
    half = layer(torch.ones(1, 4, 16, 16), grad)
    assert torch.equal(half[..., 7], torch.ones(1, 4, 16))
    # a flat guide protects nothing; disabled layers are the identity
    assert float((layer(x, guide_gradient(torch.zeros(1, 3, 32, 32))) == 0).float().mean()) > 0.2
    assert torch.equal(TStandout(enabled=False).train()(x), x)


def test_tstandout_bad_rate() -> None:
    with pytest.raises(ConfigError, match="p=1.0"):
        TStandout(p=1.0)

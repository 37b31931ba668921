"""Noise models: determinism, statistics, clip/quantise, torch batches, specs, labels and seeds."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from denoisebench.errors import ConfigError
from denoisebench.noise import NOISE_MODELS, add_noise, build_noise

TORCH_MODELS = ("awgn", "hetero_gaussian", "poisson", "poisson_gaussian", "speckle", "salt_pepper")


@pytest.fixture(autouse=True)
def _one_thread():
    torch.set_num_threads(1)


@pytest.fixture(scope="module")
def ramp() -> np.ndarray:
    """A small colour test image with values spread over [0.05, 0.95]."""
    rng = np.random.default_rng(123)
    return (0.05 + 0.9 * rng.random((48, 40, 3))).astype(np.float32)


def flat(value: float, shape=(128, 128, 3)) -> np.ndarray:
    return np.full(shape, value, dtype=np.float32)


def model(name: str, crf_dir: object = "CBDNet_CRF", **kw):
    """Build a model by name; ``crf_dir`` only matters for cbdnet (its tables are read on first use)."""
    kw = {"crf_dir": str(crf_dir), **kw} if name == "cbdnet" else kw
    return NOISE_MODELS.get(name)(**kw)


# ----- determinism -----
@pytest.mark.parametrize("name", NOISE_MODELS.names())
def test_deterministic_given_seed(name, ramp, shared_data):
    m = model(name, crf_dir=shared_data / "CBDNet_CRF")
    a = m.apply(ramp, np.random.default_rng(7))
    b = m.apply(ramp, np.random.default_rng(7))
    assert a.dtype == np.float32 and a.shape == ramp.shape
    np.testing.assert_array_equal(a, b)
    if name != "jpeg":  # JPEG at a fixed quality has no randomness
        c = m.apply(ramp, np.random.default_rng(8))
        assert not np.array_equal(a, c)


@pytest.mark.parametrize("name", TORCH_MODELS)
def test_torch_deterministic_given_generator(name):
    batch = torch.full((2, 3, 16, 16), 0.5)
    m = model(name)
    a = m.apply_torch(batch, torch.Generator().manual_seed(3))
    b = m.apply_torch(batch, torch.Generator().manual_seed(3))
    c = m.apply_torch(batch, torch.Generator().manual_seed(4))
    assert torch.equal(a, b) and not torch.equal(a, c) and a.dtype == torch.float32


@pytest.mark.parametrize("name", ["cbdnet", "composite", "jpeg"])
def test_no_torch_version_raises(name):
    with pytest.raises(NotImplementedError, match="per image or patch"):
        model(name).apply_torch(torch.zeros(1, 3, 8, 8), torch.Generator())


def test_rng_must_be_a_generator(ramp):
    with pytest.raises(TypeError, match="default_rng"):
        build_noise("awgn").apply(ramp, 0)


# ----- statistics -----
def test_awgn_mean_and_std():
    y = add_noise(flat(0.5), "awgn:sigma=25", seed=1)
    assert abs(float(y.mean()) - 0.5) < 0.002
    assert float(y.std()) == pytest.approx(25 / 255, rel=0.01)


def test_awgn_blind_sigmas_in_range():
    m = build_noise("awgn:sigma_range=[15,50]")
    assert m.sigma is None and m.sigma_range == (15.0, 50.0)
    stds = [float(m.apply(flat(0.5, (64, 64, 1)), np.random.default_rng(s)).std()) * 255 for s in range(20)]
    assert all(14 < s < 51 for s in stds) and max(stds) - min(stds) > 10
    _, sigmas = m.apply_torch(torch.full((16, 1, 8, 8), 0.5), torch.Generator().manual_seed(0), return_sigma=True)
    assert sigmas.shape == (16,) and bool(((sigmas >= 15) & (sigmas <= 50)).all())


def test_awgn_torch_per_sample_sigma_matches_returned():
    m = build_noise("awgn:sigma_range=[15,50]")
    batch = torch.full((6, 3, 64, 64), 0.5)
    noisy, sigmas = m.apply_torch(batch, torch.Generator().manual_seed(5), return_sigma=True)
    assert torch.equal(noisy, m.apply_torch(batch, torch.Generator().manual_seed(5)))
    measured = (noisy - batch).std(dim=(1, 2, 3)) * 255
    torch.testing.assert_close(measured, sigmas, rtol=0.03, atol=0.0)


def test_awgn_noisy_psnr_sanity():
    clean = np.full((256, 256, 3), 128, dtype=np.uint8)
    noisy = add_noise(clean, "awgn:sigma=30", seed=0)
    psnr = 10 * math.log10(1.0 / float(np.mean((noisy.astype(np.float64) - 128 / 255) ** 2)))
    assert psnr == pytest.approx(18.59, abs=0.03)
    bright = np.full((128, 128, 3), 0.95, dtype=np.float32)
    unclipped = add_noise(bright, "awgn:sigma=30", seed=0)
    clipped = add_noise(bright, "awgn:sigma=30,clip=true", seed=0)
    assert np.mean((clipped - bright) ** 2) < 0.8 * np.mean((unclipped - bright) ** 2)


def test_poisson_mean_and_variance():
    y = add_noise(flat(0.4), "poisson:lam=30", seed=2)
    assert float(y.mean()) == pytest.approx(0.4, abs=0.003)
    assert float(y.var()) == pytest.approx(0.4 / 30, rel=0.03)
    assert np.allclose(y * 30, np.round(y * 30), atol=1e-4)  # counts / lam


def test_poisson_gaussian_variance():
    y = add_noise(flat(0.3), "poisson_gaussian:a=0.02,b=0.001", seed=3)
    assert float(y.mean()) == pytest.approx(0.3, abs=0.003)
    assert float(y.var()) == pytest.approx(0.02 * 0.3 + 0.001, rel=0.03)


@pytest.mark.parametrize("level", [0.2, 0.8])
def test_hetero_gaussian_variance_fixed(level):
    y = add_noise(flat(level), "hetero_gaussian:lambda_s=0.02,lambda_r=0.001,clip=false", seed=4)
    assert float(y.var()) == pytest.approx(0.001 + 0.02 * level, rel=0.03)


def test_hetero_gaussian_cbdnet_per_channel_levels():
    m = build_noise("hetero_gaussian:clip=false")
    for seed in range(5):
        lam_s, lam_r = m.draw_lambdas(np.random.default_rng(seed), 3)
        assert lam_s.shape == (3,) and np.all(lam_s <= 0.16**2) and np.all(lam_r <= 0.06**2)
        assert len(set(lam_s.tolist())) == 3  # drawn independently per channel
        y = m.apply(flat(0.5), np.random.default_rng(seed))
        np.testing.assert_allclose(y.var(axis=(0, 1)), lam_r + 0.5 * lam_s, rtol=0.05, atol=1e-6)


def test_hetero_gaussian_brooks_relation():
    m = build_noise("hetero_gaussian:sampling=brooks")
    for seed in range(10):
        lam_s, lam_r = m.draw_lambdas(np.random.default_rng(seed), 3)
        assert 1e-4 <= lam_s[0] <= 1.2e-2 and lam_s[0] == lam_s[2]
        assert abs(math.log(lam_r[0]) - (2.18 * math.log(lam_s[0]) + 1.20)) < 5 * 0.26


def test_speckle_variance():
    level, sigma = 0.6, 40.0
    y = add_noise(flat(level), f"speckle:sigma={sigma},clip=false", seed=5)
    assert float(y.mean()) == pytest.approx(level, abs=0.003)
    assert float(y.var()) == pytest.approx((level * sigma / 255) ** 2, rel=0.03)


def test_salt_pepper_counts_and_full_index_range():
    x = flat(0.5, (64, 64, 3))
    amount, ratio = 0.05, 0.3
    y = add_noise(x, f"salt_pepper:amount={amount},salt_ratio={ratio}", seed=6)
    n_salt, n_pepper = math.ceil(amount * x.size * ratio), math.ceil(amount * x.size * (1 - ratio))
    salt, pepper = int((y == 1).sum()), int((y == 0).sum())
    assert n_salt * 0.9 <= salt <= n_salt and n_pepper * 0.9 <= pepper <= n_pepper
    assert int((y == 0.5).sum()) + salt + pepper == x.size
    heavy = add_noise(x, "salt_pepper:amount=0.9,salt_ratio=0.5", seed=6)
    assert (heavy[-1] != 0.5).any() and (heavy[:, -1] != 0.5).any() and (heavy[..., -1] != 0.5).any()


def test_composite_in_range(ramp):
    y = build_noise("composite").apply(ramp, np.random.default_rng(0))
    assert y.min() >= 0 and y.max() <= 1 and not np.array_equal(y, ramp)
    loose = build_noise("composite:clip=false").apply(flat(0.97, (64, 64, 3)), np.random.default_rng(1))
    assert loose.max() > 1.0


# ----- clip / quantize -----
def test_clip_and_quantize_options():
    x = flat(0.9, (64, 64, 3))
    raw = add_noise(x, "awgn:sigma=50", seed=9)
    assert raw.max() > 1 and not np.allclose(raw * 255, np.round(raw * 255))
    clipped = add_noise(x, "awgn:sigma=50,clip=true", seed=9)
    np.testing.assert_array_equal(clipped, np.clip(raw, 0, 1))
    quant = add_noise(x, "awgn:sigma=50,quantize=true", seed=9)
    np.testing.assert_allclose(quant * 255, np.round(raw * 255), atol=1e-3)
    assert quant.max() > 1  # quantise alone does not clip
    both = add_noise(x, "awgn:sigma=50,clip=true,quantize=true", seed=9)
    assert both.min() >= 0 and both.max() <= 1
    np.testing.assert_allclose(both * 255, np.round(np.clip(raw, 0, 1) * 255), atol=1e-3)


def test_defaults_per_method_specs():
    clip = {n: model(n).clip for n in NOISE_MODELS.names()}
    assert clip == {"awgn": False, "poisson": False, "poisson_gaussian": False, "hetero_gaussian": True,
                    "speckle": True, "composite": True, "cbdnet": True, "jpeg": True, "salt_pepper": False,
                    "motion_blur": True, "haze": True, "rain": True}  # degradations (issue 13): 8-bit sets
    assert build_noise("awgn").quantize is False and build_noise("jpeg").quantize is True
    assert build_noise("awgn").sigma == 25.0 and build_noise("speckle:sigma=20").sigma is None
    with pytest.raises(ConfigError, match="quantize"):
        build_noise("jpeg:quantize=false")


# ----- torch agrees with numpy -----
@pytest.mark.parametrize("spec, level", [
    ("awgn:sigma=25", 0.5),
    ("hetero_gaussian:lambda_s=0.02,lambda_r=0.001,clip=false", 0.7),
    ("poisson:lam=50", 0.3),
    ("poisson_gaussian:a=0.02,b=0.001", 0.4),
    ("speckle:sigma=40,clip=false", 0.6),
    ("salt_pepper:amount=0.05,salt_ratio=0.4", 0.5),
])
def test_torch_matches_numpy_statistics(spec, level):
    m = build_noise(spec)
    y_np = m.apply(flat(level, (64, 64, 3)), np.random.default_rng(0))
    y_t = m.apply_torch(torch.full((4, 3, 64, 64), level), torch.Generator().manual_seed(0)).numpy()
    assert float(y_t.mean()) == pytest.approx(float(y_np.mean()), abs=0.004)
    assert float(y_t.var()) == pytest.approx(float(y_np.var()), rel=0.06)
    if spec.startswith("salt_pepper"):
        assert (y_t == 1).sum(axis=(1, 2, 3)).max() <= math.ceil(0.05 * 64 * 64 * 3 * 0.4)


def test_torch_cbdnet_sampling_per_sample_per_channel():
    y = build_noise("hetero_gaussian:clip=false").apply_torch(torch.full((4, 3, 64, 64), 0.5),
                                                              torch.Generator().manual_seed(1))
    stds = (y - 0.5).std(dim=(2, 3))
    assert stds.shape == (4, 3) and len(set(stds.flatten().round(decimals=4).tolist())) == 12
    assert float(stds.max()) < math.sqrt(0.06**2 + 0.5 * 0.16**2) * 1.05

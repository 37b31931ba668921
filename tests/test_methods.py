"""Methods: registry contract, every classical method improves PSNR, BM3D needs sigma, DnCNN train/load/denoise."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from denoisebench.errors import ConfigError
from denoisebench.methods import METHODS, DenoiseContext, build_method
from denoisebench.models import build_model
from denoisebench.noise import build_noise

torch.set_num_threads(1)

# Zero-shot methods train a network per image and have their own tests (tests/test_paper003_*.py); pretrained
# models need their released weights files (tests/test_pretrained.py).
CLASSICAL = [name for name in METHODS.names()
             if not METHODS.get(name).needs_training and METHODS.get(name).kind not in ("zero-shot", "pretrained")]


def psnr(estimate: np.ndarray, clean: np.ndarray) -> float:
    return float(10 * np.log10(1.0 / np.mean((np.clip(estimate, 0, 1).astype(np.float64) - clean) ** 2)))


def synthetic(n: int, size: int, seed: int) -> list[np.ndarray]:
    """Piecewise-smooth colour images: a linear ramp per channel plus three flat discs."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size] / size
    out = []
    for _ in range(n):
        img = np.stack([0.5 + 0.25 * (a * xx + b * yy) for a, b in rng.uniform(-1, 1, (3, 2))], axis=-1)
        for _ in range(3):
            x0, y0, r = *rng.uniform(0, size, 2), rng.uniform(4, 12)
            img[(xx * size - x0) ** 2 + (yy * size - y0) ** 2 < r * r] = rng.uniform(0, 1, 3)
        out.append(np.clip(img, 0, 1).astype(np.float32))
    return out


@pytest.fixture(scope="module")
def photo() -> np.ndarray:
    from skimage import data

    return data.astronaut()[100:148, 150:198].astype(np.float32) / 255.0


def test_registry_contract() -> None:
    assert {"noisy", "bm3d", "nlm", "tv", "wavelet", "dncnn"} <= set(METHODS.names())
    for name in METHODS.names():
        cls = METHODS.get(name)
        assert cls.name == name and cls.kind and cls.paper
    assert METHODS.get("noisy").kind == "identity" and METHODS.get("bm3d").kind == "classical"
    assert METHODS.get("dncnn").kind == "supervised" and METHODS.get("dncnn").needs_training


@pytest.mark.parametrize("channels", [3, 1])
@pytest.mark.parametrize("name", CLASSICAL)
def test_classical_methods_improve_psnr(name: str, channels: int, photo: np.ndarray) -> None:
    clean = photo[:, :, :channels]
    noisy = build_noise("awgn:sigma=25").apply(clean, np.random.default_rng(0))
    out = build_method(name).denoise(noisy, DenoiseContext(sigma=25.0))
    assert out.shape == clean.shape and out.dtype == np.float32
    if name == "noisy":
        np.testing.assert_array_equal(out, noisy)
    else:
        assert psnr(out, clean) > psnr(noisy, clean) + 3.0, name


@pytest.mark.parametrize("name", ["nlm", "tv", "wavelet"])
def test_blind_use_estimates_sigma(name: str, photo: np.ndarray) -> None:
    noisy = build_noise("awgn:sigma=25").apply(photo, np.random.default_rng(1))
    out = build_method(name).denoise(noisy, DenoiseContext(sigma=None))
    assert psnr(out, photo) > psnr(noisy, photo) + 3.0


def test_bm3d_needs_sigma_and_validates_config(photo: np.ndarray) -> None:
    with pytest.raises(ConfigError, match="non-blind.*--sigma"):
        build_method("bm3d").denoise(photo, DenoiseContext(sigma=None))
    with pytest.raises(ConfigError, match="profile='fast' is not one of np, refilter"):
        build_method("bm3d", {"profile": "fast"})
    with pytest.raises(ConfigError, match=r"unknown config keys \['sigma'\]"):
        build_method("bm3d", {"sigma": 25})
    out = build_method("bm3d", {"profile": "vn", "colorspace": "YCbCr"}).denoise(photo, DenoiseContext(25.0))
    assert out.shape == photo.shape
    try:  # broken in bm3d 4.0.3 + bm4d 4.2.x; must then fail with an explanation, not a bare numpy error
        build_method("bm3d", {"profile": "refilter"}).denoise(photo, DenoiseContext(25.0))
    except ConfigError as exc:
        assert "refilter" in str(exc) and "'np'" in str(exc)


def test_dncnn_parameter_counts() -> None:
    counts = {(c, d): build_method("dncnn", {"channels": c, "depth": d}).parameter_count()
              for c in (1, 3) for d in (17, 20)}
    # conv(C->64)+bias, (d-2) x [conv 64->64 no bias + BN(64)], conv(64->C) no bias
    assert counts == {(1, 17): 556_096, (3, 17): 558_400, (1, 20): 667_072, (3, 20): 669_376}
    assert build_method("dncnn").parameter_count() == 558_400  # default: colour, depth 17


def test_dncnn_model_is_residual() -> None:
    torch.manual_seed(0)
    model = build_model("dncnn", channels=1, depth=4, features=8).eval()
    x = torch.rand(2, 1, 12, 10)
    with torch.no_grad():
        torch.testing.assert_close(model(x), x - model.residual(x))
    assert len([m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]) == 2


def test_dncnn_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="channels=2"):
        build_method("dncnn", {"channels": 2})
    with pytest.raises(ConfigError, match="depth=2"):
        build_method("dncnn", {"depth": 2})
    with pytest.raises(ConfigError, match=r"unknown config keys \['layers'\]"):
        build_method("dncnn", {"layers": 17})
    with pytest.raises(ConfigError, match="no trained network"):
        build_method("dncnn").denoise(np.zeros((8, 8, 3), np.float32), DenoiseContext())
    with pytest.raises(ConfigError, match="not found"):
        build_method("dncnn").load(tmp_path / "missing.pt")
    with pytest.raises(ConfigError, match="channels=1"):
        build_method("dncnn", {"channels": 1}).train([np.zeros((40, 40, 3), np.float32)], tmp_path)


def test_dncnn_trains_saves_loads_and_denoises(tmp_path: Path) -> None:
    config = {"channels": 3, "depth": 5, "features": 16, "train_noise": "awgn:sigma=25"}
    method = build_method("dncnn", config)
    model_path = method.train(
        synthetic(8, 48, seed=0), tmp_path / "dncnn",
        train_config={"iterations": 300, "batch_size": 8, "patch_size": 24, "lr": 1e-2, "log_every": 50,
                      "checkpoint_every": 100, "progress": False, "seed": 0},
    )
    assert model_path == tmp_path / "dncnn" / "model.pt" and (tmp_path / "dncnn" / "state.pt").is_file()
    clean = synthetic(1, 64, seed=5)[0]
    noisy = build_noise("awgn:sigma=25").apply(clean, np.random.default_rng(1))
    out = method.denoise(noisy, DenoiseContext(sigma=25.0))
    assert out.shape == clean.shape and out.dtype == np.float32
    assert psnr(out, clean) > psnr(noisy, clean) + 2.0

    restored = build_method("dncnn")  # no config: everything comes from the checkpoint
    restored.load(model_path)
    assert restored.params["depth"] == 5 and restored.params["features"] == 16
    np.testing.assert_allclose(restored.denoise(noisy, DenoiseContext(device="auto")), out, atol=1e-6)
    assert restored.summary["steps"] == 300
    with pytest.raises(ConfigError, match="takes 3-channel images"):
        restored.denoise(noisy[:, :, :1], DenoiseContext())
    with pytest.raises(ConfigError, match="not a DnCNN model checkpoint"):
        torch.save({"method": "other", "model": {}}, tmp_path / "other.pt")
        restored.load(tmp_path / "other.pt")

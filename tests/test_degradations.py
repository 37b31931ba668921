"""Degradation models (issue 13 / method-specs 2.8-2.9): seeded byte-reproducibility and expected statistics."""

from __future__ import annotations

import numpy as np
import pytest

from denoisebench.config import Cell
from denoisebench.errors import ConfigError
from denoisebench.noise import build_noise, parse_noise_spec
from denoisebench.papers.p002_durn_mtl.degradations import line_kernel, smooth_depth
from denoisebench.synthesis import synthesize_folder


def _image(h: int = 48, w: int = 64) -> np.ndarray:
    rng = np.random.default_rng(7)
    base = np.linspace(0.2, 0.8, w, dtype=np.float32)[None, :, None] * np.ones((h, 1, 3), np.float32)
    return np.clip(base + 0.05 * rng.standard_normal((h, w, 3)).astype(np.float32), 0, 1)


@pytest.mark.parametrize("spec", ["motion_blur", "haze", "rain", "jpeg:quality=10"])
def test_same_seed_same_bytes_other_seed_differs(spec: str) -> None:
    x = _image()
    model = build_noise(spec)
    a, b = (model.apply(x, np.random.default_rng(3)) for _ in range(2))
    assert a.dtype == np.float32 and a.shape == x.shape and a.tobytes() == b.tobytes()
    assert a.min() >= 0 and a.max() <= 1 and np.array_equal(np.round(a * 255) / 255, a)  # clipped, 8-bit
    if spec != "jpeg:quality=10":  # JPEG has no randomness
        assert a.tobytes() != model.apply(x, np.random.default_rng(4)).tobytes()


def test_labels_and_cells_select_degradations_by_name() -> None:
    assert parse_noise_spec("motion_blur:length=15,angle=30").label == "motion_blur_length15_angle30"
    assert parse_noise_spec("motion_blur").label == "motion_blur"
    assert parse_noise_spec("motion_blur:length_range=[3,9]").label == "motion_blur_length3-9"
    assert parse_noise_spec("haze").label == "haze" and parse_noise_spec("rain:layers=2").label == "rain_layers2"
    assert Cell("x", "demo", "test", "jpeg:quality=10", None).label == "jpeg_quality10"
    with pytest.raises(ConfigError):
        build_noise("haze:beta=1,beta_range=[1,2]")
    with pytest.raises(ConfigError):
        build_noise("rain:blend=multiply")


def test_motion_kernel_and_blur_statistics() -> None:
    k = line_kernel(9, 0.0)
    assert k.sum() == pytest.approx(1.0) and np.count_nonzero(k.sum(axis=1) > 1e-9) == 1  # one row: horizontal
    assert np.count_nonzero(line_kernel(9, 90.0).sum(axis=0) > 1e-9) == 1
    x = _image()
    y = build_noise("motion_blur:length=15,angle=0,noise_sigma=0,quantize=false").apply(x, np.random.default_rng(0))
    assert abs(float(y.mean() - x.mean())) < 2e-3  # the kernel sums to 1 (reflect padding keeps the mean)
    def grad(img, axis):
        return float(np.abs(np.diff(img, axis=axis)).mean())
    assert grad(y, 1) < 0.3 * grad(x, 1)  # horizontal motion smooths along rows ...
    assert grad(y, 0) < grad(x, 0)


def test_haze_follows_the_atmospheric_model() -> None:
    x = _image()
    assert np.allclose(build_noise("haze:beta=0,airlight=0.9").apply(x, np.random.default_rng(0)),
                       np.round(x * 255) / 255)  # t = 1: no haze
    black = np.zeros((64, 32, 3), np.float32)
    y = build_noise("haze:beta=1.5,airlight=0.8,quantize=false").apply(black, np.random.default_rng(0))
    lo, hi = 0.8 * (1 - np.exp(-1.5 * 0.1)), 0.8 * (1 - np.exp(-1.5 * 1.0))
    assert y.min() >= lo - 1e-5 and y.max() <= hi + 1e-5
    assert y[:4].mean() > y[-4:].mean()  # far (top) is hazier than near (bottom)
    depth = smooth_depth((40, 30), np.random.default_rng(1))
    assert depth.min() == pytest.approx(0.1) and depth.max() == pytest.approx(1.0)


def test_rain_adds_bright_oriented_streaks() -> None:
    x = np.full((96, 96, 3), 0.2, np.float32)
    model = build_noise("rain:layers=1,intensity_range=[0.5,0.5],angle_range=[0,0],quantize=false")
    y = model.apply(x, np.random.default_rng(2))
    diff = y[:, :, 0] - x[:, :, 0]
    assert diff.min() >= -1e-6 and diff.max() == pytest.approx(0.5, abs=1e-5)
    assert np.allclose(y[:, :, 0], y[:, :, 1])  # streaks are grey
    # vertical streaks: neighbours along columns are much more alike than along rows
    assert np.abs(np.diff(diff, axis=0)).mean() < 0.5 * np.abs(np.diff(diff, axis=1)).mean()


def test_jpeg_quality_orders_the_error() -> None:
    yy, xx = np.mgrid[:64, :64]
    x = np.stack([xx / 63, yy / 63, ((xx - 30) ** 2 + (yy - 34) ** 2 < 300) * 0.8], axis=-1).astype(np.float32)
    err = {q: float(np.abs(build_noise(f"jpeg:quality={q}").apply(x, np.random.default_rng(0)) - x).mean())
           for q in (10, 90)}
    assert err[10] > 3 * err[90]


def test_synthesized_folders_are_byte_identical(tmp_path) -> None:
    from denoisebench.imageio import write_image

    write_image(tmp_path / "in" / "a.png", _image())
    outs = [synthesize_folder(tmp_path / "in", tmp_path / f"out{i}", "rain", seed=0) for i in range(2)]
    assert (outs[0] / "a.png").read_bytes() == (outs[1] / "a.png").read_bytes()

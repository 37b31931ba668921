"""Metric contract: PSNR/SSIM values pinned against hand computations, direct loops, skimage and literals."""

from __future__ import annotations

import math

import numpy as np
import pytest
from skimage.metrics import structural_similarity

from denoisebench.errors import ConfigError, UnknownNameError
from denoisebench.imageio import read_uint8
from denoisebench.metrics import (
    DEFAULT_PROTOCOL,
    PROTOCOLS,
    Protocol,
    evaluate_pair,
    get_protocol,
    prepare_pair,
    psnr,
    resolve_protocol,
    ssim,
)

FLOAT = Protocol(quant="float")


def _direct_ssim_wang(a: np.ndarray, b: np.ndarray) -> float:
    """Textbook SSIM by explicit loops over every 11x11 window fully inside the image (0-255 float input)."""
    r = np.arange(-5, 6)
    w = np.exp(-(r[:, None] ** 2 + r[None, :] ** 2) / (2 * 1.5**2))
    w /= w.sum()
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    per_channel = []
    for c in range(a.shape[2]):
        values = []
        for i in range(a.shape[0] - 10):
            for j in range(a.shape[1] - 10):
                x, y = a[i : i + 11, j : j + 11, c], b[i : i + 11, j : j + 11, c]
                mx, my = (w * x).sum(), (w * y).sum()
                vx, vy = (w * (x - mx) ** 2).sum(), (w * (y - my) ** 2).sum()
                cxy = (w * (x - mx) * (y - my)).sum()
                values.append((2 * mx * my + c1) * (2 * cxy + c2) / ((mx**2 + my**2 + c1) * (vx + vy + c2)))
        per_channel.append(np.mean(values))
    return float(np.mean(per_channel))


@pytest.fixture(scope="module")
def kodim01(shared_data) -> np.ndarray:
    return read_uint8(shared_data / "Kodak24" / "kodim01.png")


@pytest.fixture(scope="module")
def noisy01(kodim01) -> np.ndarray:
    x = kodim01.astype(np.float64) / 255.0
    return x + 25.0 / 255.0 * np.random.default_rng(0).standard_normal(x.shape)


@pytest.fixture(scope="module")
def pair_small() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(7)
    ref = rng.integers(0, 256, size=(40, 48, 3), dtype=np.uint8)
    out = ref / 255.0 + rng.normal(0, 0.08, ref.shape)
    return ref, out


# --------------------------------------------------------------------------------------------------- PSNR


def test_psnr_by_hand_on_grey_2x2():
    ref = np.zeros((2, 2), np.uint8)
    out = np.zeros((2, 2))
    out[0, 0] = 10 / 255
    # MSE = 10^2 / 4 = 25 -> 10 log10(255^2 / 25) = 10 log10(2601)
    assert psnr(ref, out) == pytest.approx(34.15140352195873, abs=1e-9)


def test_psnr_uses_all_channels_and_max_255():
    ref = np.full((3, 3, 3), 100, np.uint8)
    out = np.full((3, 3, 3), 100 / 255)
    out[..., 1] = 104 / 255  # error 4 on one channel of three -> MSE 16/3
    assert psnr(ref, out) == pytest.approx(10 * math.log10(255**2 / (16 / 3)), abs=1e-9)


def test_identical_images_give_inf_and_ssim_one(kodim01):
    assert psnr(kodim01, kodim01 / 255.0) == math.inf
    assert ssim(kodim01, kodim01 / 255.0) == pytest.approx(1.0, abs=1e-12)


def test_restored_is_clipped_before_quantisation():
    ref = np.array([[0, 255]], np.uint8)
    assert psnr(ref, np.array([[-0.3, 1.7]])) == math.inf


def test_round_trunc_float_differ():
    ref = np.zeros((4, 4), np.uint8)
    out = np.full((4, 4), 0.6 / 255)
    assert psnr(ref, out) == pytest.approx(10 * math.log10(255**2), abs=1e-9)  # rounds to 1
    assert psnr(ref, out, Protocol(quant="trunc")) == math.inf  # truncates to 0
    assert psnr(ref, out, FLOAT) == pytest.approx(10 * math.log10(255**2 / 0.36), abs=1e-9)


def test_float_reference_is_rounded_unless_float_protocol():
    ref = np.full((4, 4), 10.4 / 255)
    out = np.full((4, 4), 10 / 255)
    assert psnr(ref, out) == math.inf  # reference rounds to 10
    assert psnr(ref, out, FLOAT) == pytest.approx(10 * math.log10(255**2 / 0.16), abs=1e-9)
    assert psnr(ref, out, Protocol(quant="trunc")) == math.inf  # reference is rounded, never truncated


def test_uint8_restored_is_taken_as_already_quantised(pair_small):
    ref, out = pair_small
    out8 = np.clip(np.rint(out * 255), 0, 255).astype(np.uint8)
    for p in (DEFAULT_PROTOCOL, FLOAT, Protocol(quant="trunc")):
        assert psnr(ref, out8, p) == pytest.approx(psnr(ref, out), abs=1e-12)


# --------------------------------------------------------------------------------------------------- SSIM


def test_ssim_wang_matches_direct_loop_reference():
    rng = np.random.default_rng(3)
    ref = rng.integers(0, 256, size=(15, 17, 2), dtype=np.uint8)
    out = np.clip(ref / 255.0 + rng.normal(0, 0.1, ref.shape), 0, 1)
    a, b = prepare_pair(ref, out)
    assert ssim(ref, out) == pytest.approx(_direct_ssim_wang(a, b), abs=1e-12)


def test_ssim_wang_equals_skimage_gaussian_variant(kodim01, noisy01):
    ref, out = kodim01[100:180, 200:300], noisy01[100:180, 200:300]
    a, b = prepare_pair(ref, out)
    expected = structural_similarity(
        a, b, data_range=255, channel_axis=-1, gaussian_weights=True, sigma=1.5, use_sample_covariance=False
    )
    # skimage filters the full image with reflect padding then crops (11-1)//2 = 5 px: same valid region.
    assert ssim(ref, out) == pytest.approx(expected, abs=1e-10)


def test_ssim_colour_is_mean_of_channels(pair_small):
    ref, out = pair_small
    per_channel = [ssim(ref[..., c], out[..., c]) for c in range(3)]
    assert ssim(ref, out) == pytest.approx(np.mean(per_channel), abs=1e-12)
    assert len(set(np.round(per_channel, 6))) == 3


def test_ssim_skimage_default_matches_skimage(pair_small):
    ref, out = pair_small
    p = Protocol(ssim="skimage_default")
    a, b = prepare_pair(ref, out, p)
    assert ssim(ref, out, p) == pytest.approx(structural_similarity(a, b, data_range=255, channel_axis=-1), abs=1e-12)
    assert ssim(ref[..., 0], out[..., 0], p) == pytest.approx(
        structural_similarity(a[..., 0], b[..., 0], data_range=255), abs=1e-12
    )
    assert abs(ssim(ref, out, p) - ssim(ref, out)) > 1e-4  # the definitions differ (0.48 vs 0.51 on kodim01)


def test_ssim_rejects_too_small_images():
    img = np.zeros((12, 12, 3), np.uint8)
    with pytest.raises(ValueError, match="too small for SSIM 'wang'"):
        ssim(img, img / 255.0, Protocol(border=1))
    assert ssim(img, img / 255.0, Protocol(border=2, ssim="skimage_default")) == pytest.approx(1.0)


# --------------------------------------------------------------------------------------------------- border, Y


def test_border_crop_ignores_the_frame(pair_small):
    ref, out = pair_small
    shave = get_protocol("shave3")
    assert psnr(ref, out, shave) == pytest.approx(psnr(ref[3:-3, 3:-3], out[3:-3, 3:-3]), abs=1e-12)
    assert ssim(ref, out, shave) == pytest.approx(ssim(ref[3:-3, 3:-3], out[3:-3, 3:-3]), abs=1e-12)
    framed = ref / 255.0
    framed[:3] = 1.0 - framed[:3]  # damage only the 3-px frame
    assert psnr(ref, framed, shave) == math.inf
    assert psnr(ref, framed) < 20
    with pytest.raises(ValueError, match="crops the whole image"):
        psnr(ref, out, Protocol(border=20))


def test_y_matlab_and_opencv_values():
    rgb = np.array([[[0, 0, 0], [255, 255, 255], [255, 0, 0], [10, 200, 30]]], np.uint8)
    zeros = np.zeros_like(rgb)
    y_m, _ = prepare_pair(rgb, zeros, Protocol(space="y_matlab"))
    y_o, _ = prepare_pair(rgb, zeros, Protocol(space="y_opencv"))
    assert y_m.shape == (1, 4, 1)
    # MATLAB: 16 + 65.481 R + 128.553 G + 24.966 B with RGB in [0, 1], rounded for 8-bit input.
    assert y_m[0, :, 0].tolist() == [16.0, 235.0, 81.0, 122.0]  # 81.481 -> 81; 122.33 -> 122
    # OpenCV: 0.299 R + 0.587 G + 0.114 B, 8-bit fixed point.
    assert y_o[0, :, 0].tolist() == [0.0, 255.0, 76.0, 124.0]  # 76.245 -> 76; 123.81 -> 124
    y_mf, _ = prepare_pair(rgb, zeros, Protocol(space="y_matlab", quant="float"))
    y_of, _ = prepare_pair(rgb, zeros, Protocol(space="y_opencv", quant="float"))
    assert y_mf[0, 3, 0] == pytest.approx(16 + (65.481 * 10 + 128.553 * 200 + 24.966 * 30) / 255, abs=1e-12)
    assert y_of[0, 3, 0] == pytest.approx(0.299 * 10 + 0.587 * 200 + 0.114 * 30, abs=1e-12)


def test_y_opencv_fixed_point_is_within_rounding_of_formula():
    rng = np.random.default_rng(1)
    rgb = rng.integers(0, 256, size=(64, 64, 3), dtype=np.uint8)
    y, _ = prepare_pair(rgb, np.zeros_like(rgb), Protocol(space="y_opencv"))
    exact = rgb.astype(np.float64) @ np.array([0.299, 0.587, 0.114])
    assert np.abs(y[..., 0] - exact).max() <= 0.5 + 0.005  # 14-bit coefficients: |error| < 0.003
    grey = np.repeat(np.arange(256, dtype=np.uint8)[None, :, None], 3, axis=2)
    yg, _ = prepare_pair(grey, np.zeros_like(grey), Protocol(space="y_opencv"))
    assert yg[0, :, 0].tolist() == list(range(256))


def test_y_protocols_give_different_psnr_and_grey_stays_grey(pair_small):
    ref, out = pair_small
    values = {s: psnr(ref, out, Protocol(space=s)) for s in ("rgb", "y_matlab", "y_opencv")}
    assert len({round(v, 4) for v in values.values()}) == 3
    grey_ref, grey_out = ref[..., :1], out[..., :1]
    for s in ("y_matlab", "y_opencv"):
        assert psnr(grey_ref, grey_out, Protocol(space=s)) == pytest.approx(psnr(grey_ref, grey_out), abs=1e-12)


# --------------------------------------------------------------------------------------------------- inputs


def test_shape_mismatch_names_both_shapes():
    with pytest.raises(ValueError, match=r"\(8, 8, 3\).*\(8, 9, 3\)"):
        psnr(np.zeros((8, 8, 3), np.uint8), np.zeros((8, 9, 3)))


def test_bad_inputs_are_rejected():
    ref = np.zeros((12, 12), np.uint8)
    with pytest.raises(ValueError, match="NaN"):
        psnr(ref, np.full((12, 12), np.nan))
    with pytest.raises(ValueError, match="dtype int64"):
        psnr(ref.astype(np.int64), np.zeros((12, 12)))
    with pytest.raises(ValueError, match="shape"):
        psnr(np.zeros(5, np.uint8), np.zeros(5))


# --------------------------------------------------------------------------------------------------- protocols


def test_protocol_defaults_and_round_trip():
    p = Protocol()
    assert p.to_dict() == {"space": "rgb", "quant": "round", "border": 0, "ssim": "wang"}
    assert Protocol.from_dict({"border": 3}) == get_protocol("shave3")
    for name in PROTOCOLS.names():
        assert Protocol.from_dict(get_protocol(name).to_dict()) == get_protocol(name)
    assert {"default", "shave3", "sidd"} <= set(PROTOCOLS.names())
    assert get_protocol("ttaid") == Protocol(quant="float", ssim="skimage_default")  # paper 001's official metric
    assert get_protocol("durn") == Protocol(quant="trunc", ssim="skimage_default")
    assert get_protocol("durn_y") == Protocol(space="y_opencv", quant="trunc", ssim="skimage_default")
    assert get_protocol("sidd") == Protocol(quant="float")


def test_protocol_errors_name_key_and_valid_values():
    with pytest.raises(ConfigError, match=r"unknown metric protocol key\(s\) \['crop'\].*border"):
        Protocol.from_dict({"crop": 3})
    with pytest.raises(ConfigError, match="quant='ceil'.*round, trunc, float"):
        Protocol.from_dict({"quant": "ceil"})
    with pytest.raises(ConfigError, match="space='ycbcr'.*y_matlab"):
        Protocol(space="ycbcr")
    for bad in (-1, 1.5, True, "3"):
        with pytest.raises(ConfigError, match="border"):
            Protocol(border=bad)
    with pytest.raises(UnknownNameError, match="default, durn, durn_y, shave3, sidd"):
        get_protocol("matlab")
    with pytest.raises(KeyError, match="valid names"):
        PROTOCOLS["matlab"]  # mapping-style access, as the CLI uses it
    assert PROTOCOLS["shave3"] is get_protocol("shave3") and "sidd" in PROTOCOLS


def test_resolve_protocol_accepts_all_spellings():
    assert resolve_protocol(None) == DEFAULT_PROTOCOL
    assert resolve_protocol("durn") is get_protocol("durn")
    assert resolve_protocol({"space": "y_matlab"}) == Protocol(space="y_matlab")
    assert resolve_protocol(FLOAT) is FLOAT


def test_describe():
    assert DEFAULT_PROTOCOL.describe() == (
        "RGB, output clipped and rounded to uint8, no border crop, "
        "SSIM Wang et al. (Gaussian 11x11, sigma 1.5, per channel)"
    )
    assert get_protocol("durn").describe() == (
        "RGB, output clipped and truncated to uint8, no border crop, "
        "SSIM skimage defaults (uniform 7x7, sample covariance)"
    )
    assert "3 px border cropped" in get_protocol("shave3").describe()
    assert Protocol(space="y_opencv", quant="float").describe().startswith("Y (OpenCV, full range), output clipped")


# --------------------------------------------------------------------------------------------------- pinned literals


def test_pinned_kodim01_awgn25(kodim01, noisy01):
    """kodim01 + AWGN sigma 25 from numpy default_rng(0), noisy not clipped; values computed once and pinned."""
    got = {name: evaluate_pair(kodim01, noisy01, get_protocol(name)) for name in PROTOCOLS.names()}
    expected = {
        "default": (20.2735, 0.4839),
        "shave3": (20.2711, 0.4837),
        "sidd": (20.2740, 0.4840),
        "durn": (20.2761, 0.5084),
    }
    for name, (p, s) in expected.items():
        assert got[name]["psnr"] == pytest.approx(p, abs=5e-5), name
        assert got[name]["ssim"] == pytest.approx(s, abs=5e-5), name
    assert psnr(kodim01, noisy01, Protocol(space="y_matlab")) == pytest.approx(25.0636, abs=5e-5)
    assert psnr(kodim01, noisy01, Protocol(space="y_opencv")) == pytest.approx(23.7430, abs=5e-5)

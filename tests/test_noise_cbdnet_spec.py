"""CBDNet pipeline and CRF tables, JPEG, spec parsing, labels and derived seeds."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest

from denoisebench.errors import ConfigError, DatasetError, UnknownNameError
from denoisebench.imageio import read_image
from denoisebench.noise import (
    NOISE_MODELS,
    NoiseSpec,
    add_noise,
    build_noise,
    derive_seed,
    load_crf_tables,
    nearest_lookup,
    parse_noise_spec,
)


@pytest.fixture(scope="module")
def crf_dir(shared_data):
    return shared_data / "CBDNet_CRF"


@pytest.fixture(scope="module")
def kodim(shared_data) -> np.ndarray:
    """A 192x256 crop of kodim01 (kept small for speed)."""
    return np.ascontiguousarray(read_image(shared_data / "Kodak24" / "kodim01.png")[160:352, 256:512])


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    return 10 * math.log10(1.0 / float(np.mean((a.astype(np.float64) - b) ** 2)))


# ----- CRF tables -----
def test_crf_tables_shape_and_roundtrip(crf_dir):
    tables = load_crf_tables(crf_dir)
    assert tables.n_curves == 201 and tables.I.shape == (201, 1024) and tables.invB.shape == (201, 1024)
    x = np.linspace(0, 1, 513, dtype=np.float32)
    errors = np.stack([np.abs(tables.forward(tables.inverse(x, i), i) - x) for i in range(201)])
    assert float(errors.mean()) < 0.002  # nearest-bin tables; a few curves are steep near 0
    assert float(np.median(errors.max(axis=1))) < 0.01
    assert float(tables.forward(np.array([1.0]), 5)[0]) == 1.0 and float(tables.inverse(np.array([0.0]), 5)[0]) == 0
    with pytest.raises(IndexError):
        tables.forward(x, 201)


@pytest.mark.parametrize("uniform", [False, True])
def test_nearest_lookup_matches_bruteforce(uniform, crf_dir):
    rng = np.random.default_rng(0)
    if uniform:  # the real search grid takes the arithmetic fast path
        grid = load_crf_tables(crf_dir).I[0]
    else:
        grid = np.sort(rng.random(50)).astype(np.float32)
    table = np.arange(grid.size, dtype=np.float32)
    mids = ((grid[1:] + grid[:-1]) / 2).astype(np.float32)  # exact ties go to the upper bin
    v = np.concatenate([rng.random(3000), grid, mids, np.nextafter(grid, 2), [-0.5, 1.5]]).astype(np.float32)
    vc = np.clip(v, 0, 1)
    dist = np.abs(grid[None, :] - vc[:, None])
    upper_on_tie = grid.size - 1 - np.argmin(dist[:, ::-1], axis=1)
    np.testing.assert_array_equal(nearest_lookup(v, grid, table), table[upper_on_tie])


def test_crf_missing_folder_error(tmp_path):
    with pytest.raises(DatasetError) as info:
        load_crf_tables(tmp_path / "nowhere")
    message = str(info.value)
    assert "nowhere" in message and "denoisebench datasets fetch cbdnet_crf" in message


def test_cbdnet_missing_tables_error_at_first_use(tmp_path, kodim):
    m = build_noise({"name": "cbdnet", "crf_dir": str(tmp_path)})  # building needs no files
    with pytest.raises(DatasetError, match="201_CRF_data.mat"):
        m.apply(kodim, np.random.default_rng(0))


# ----- CBDNet pipeline -----
def test_cbdnet_on_kodak(kodim, crf_dir):
    m = build_noise({"name": "cbdnet", "crf_dir": str(crf_dir)})
    y = m.apply(kodim, np.random.default_rng(0))
    assert y.shape == kodim.shape and y.dtype == np.float32
    assert y.min() >= 0 and y.max() <= 1
    assert 15 < psnr(y, kodim) < 60
    np.testing.assert_array_equal(y, m.apply(kodim, np.random.default_rng(0)))


def test_cbdnet_variance_flag_changes_output(kodim, crf_dir):
    common = {"name": "cbdnet", "crf_dir": str(crf_dir), "pattern": "none", "sigma_s_range": [0.1, 0.1],
              "sigma_c_range": [0.0, 0.0]}
    paper = build_noise({**common, "variance": "paper"}).apply(kodim, np.random.default_rng(4))
    code = build_noise({**common, "variance": "code"}).apply(kodim, np.random.default_rng(4))
    assert not np.array_equal(paper, code)
    # var = L*s^2 (paper) >= (s*L)^2 (code) for L in [0, 1]: the paper variant is noisier
    assert psnr(paper, kodim) < psnr(code, kodim) - 1


def test_cbdnet_noise_free_pipeline_is_close_to_identity(kodim, crf_dir):
    zero = {"name": "cbdnet", "crf_dir": str(crf_dir), "sigma_s_range": [0, 0], "sigma_c_range": [0, 0]}
    plain = build_noise({**zero, "pattern": "none"}).apply(kodim, np.random.default_rng(1))
    assert psnr(plain, kodim) > 38  # CRF round trip only
    mosaic = build_noise({**zero, "pattern": "RGGB"}).apply(kodim, np.random.default_rng(1))
    assert 25 < psnr(mosaic, kodim) < psnr(plain, kodim)  # + Malvar demosaicking error


def test_cbdnet_jpeg_option_and_rgb_only(kodim, crf_dir):
    m = build_noise({"name": "cbdnet", "crf_dir": str(crf_dir), "jpeg": True, "pattern": "none"})
    y = m.apply(kodim, np.random.default_rng(2))
    np.testing.assert_allclose(y * 255, np.round(y * 255), atol=1e-3)
    assert m.label == "cbdnet_variance-paper_pattern-none_jpeg-true"
    with pytest.raises(ConfigError, match="RGB"):
        m.apply(kodim[:, :, :1], np.random.default_rng(2))


# ----- JPEG -----
def test_jpeg_quality(kodim):
    low = add_noise(kodim, "jpeg:quality=10", seed=0)
    high = add_noise(kodim, "jpeg:quality=95", seed=0)
    assert low.shape == kodim.shape and np.allclose(low * 255, np.round(low * 255), atol=1e-3)
    assert psnr(high, kodim) > 38 and psnr(low, kodim) < psnr(high, kodim) - 8
    grey = add_noise(kodim[:, :, :1], "jpeg:quality=10", seed=0)
    assert grey.shape == (192, 256, 1)
    full = add_noise(kodim, "jpeg:quality=10,subsampling=4:4:4", seed=0)
    assert psnr(full, kodim) > psnr(low, kodim)  # no chroma subsampling


# ----- specs and labels -----
@pytest.mark.parametrize("spec, label", [
    ("awgn", "awgn_sigma25"),
    ("awgn:sigma=25", "awgn_sigma25"),
    ({"name": "awgn", "sigma": 25}, "awgn_sigma25"),
    ({"name": "AWGN", "params": {"sigma": 25.0}}, "awgn_sigma25"),
    ("awgn:sigma=25,clip=true", "awgn_sigma25_clip-true"),
    ("awgn:sigma=25,clip=false", "awgn_sigma25"),
    ("awgn:sigma_range=[15,50]", "awgn_sigma15-50"),
    ("awgn:sigma_range=15-50", "awgn_sigma15-50"),
    ("poisson:lam=30", "poisson_lam30"),
    ("poisson_gaussian", "poisson_gaussian_a0.01_b0.0004"),
    ("cbdnet:variance=paper", "cbdnet_variance-paper"),
    ("cbdnet:variance=code,jpeg=yes", "cbdnet_variance-code_jpeg-true"),
    ("hetero_gaussian", "hetero_gaussian_sampling-cbdnet"),
    ("hetero_gaussian:lambda_s=0.01,lambda_r=0.0001", "hetero_gaussian_sampling-fixed_lambdas0.01_lambdar0.0001"),
    ("speckle", "speckle_sigma5-50"),
    ("speckle:sigma=20", "speckle_sigma20"),
    ("salt_pepper:amount=0.005", "salt_pepper_amount0.005"),
    ("composite", "composite"),
    ("jpeg:quality=10,subsampling=4:4:4", "jpeg_quality10_sub-444"),
])
def test_labels(spec, label):
    parsed = parse_noise_spec(spec)
    assert parsed.label == label == build_noise(spec).label
    assert parse_noise_spec(parsed.text) == parsed  # the canonical text round-trips
    assert parse_noise_spec(parsed.to_dict()) == parsed


def test_every_default_label_is_filesystem_safe():
    for name in NOISE_MODELS.names():
        assert re.fullmatch(r"[A-Za-z0-9._-]+", build_noise(name).label)


def test_spec_fields_and_params():
    spec = parse_noise_spec("awgn:sigma=15,clip=true")
    assert isinstance(spec, NoiseSpec) and spec.name == "awgn" and spec.params == {"sigma": 15.0, "clip": True}
    assert hash(spec) == hash(parse_noise_spec({"name": "awgn", "sigma": 15, "clip": "true"}))
    assert build_noise(spec).params == {"name": "awgn", "sigma": 15.0, "sigma_range": None, "clip": True,
                                        "quantize": False}


def test_spec_errors():
    with pytest.raises(UnknownNameError, match="awgn.*cbdnet"):
        parse_noise_spec("gaussian:sigma=25")
    with pytest.raises(ConfigError, match=r"'sigmaa'.*valid keys: sigma, sigma_range, clip, quantize"):
        parse_noise_spec("awgn:sigmaa=25")
    with pytest.raises(ConfigError, match=r"'sigma' = '300'.*\[0, 255\]"):
        parse_noise_spec("awgn:sigma=300")
    with pytest.raises(ConfigError, match=r"'sigma_range'.*lo <= hi"):
        parse_noise_spec("awgn:sigma_range=[50,15]")
    with pytest.raises(ConfigError, match="not both"):
        parse_noise_spec("awgn:sigma=25,sigma_range=[15,50]")
    with pytest.raises(ConfigError, match="'clip' = 'maybe'.*true or false"):
        parse_noise_spec("awgn:clip=maybe")
    with pytest.raises(ConfigError, match="'variance' = 'both'.*paper, code"):
        parse_noise_spec("cbdnet:variance=both")
    with pytest.raises(ConfigError, match="key=value"):
        parse_noise_spec("awgn:25")
    with pytest.raises(ConfigError, match="no 'name'"):
        parse_noise_spec({"sigma": 25})
    with pytest.raises(ConfigError, match="lambda_r"):
        parse_noise_spec("hetero_gaussian:sampling=fixed,lambda_s=0.01")
    with pytest.raises(ConfigError, match="'quality' = 2.5"):
        parse_noise_spec({"name": "jpeg", "quality": 2.5})


# ----- seeds -----
def test_derive_seed_is_stable_and_sensitive():
    seed = derive_seed("kodak24", "kodim01", "awgn_sigma25", 0)
    assert seed == 134882723102437672  # pinned: sha256 of the JSON list, first 16 hex digits, >> 1
    assert 0 <= seed < 2**63
    others = {
        derive_seed("kodak24", "kodim02", "awgn_sigma25", 0),
        derive_seed("cbsd68", "kodim01", "awgn_sigma25", 0),
        derive_seed("kodak24", "kodim01", "awgn_sigma50", 0),
        derive_seed("kodak24", "kodim01", "awgn_sigma25", 1),
    }
    assert seed not in others and len(others) == 4
    with pytest.raises(TypeError):
        derive_seed("kodak24", "kodim01", "awgn_sigma25", "0")


def test_add_noise_uses_default_rng(kodim):
    expected = build_noise("awgn:sigma=15").apply(kodim, np.random.default_rng(42))
    np.testing.assert_array_equal(add_noise(kodim, "awgn:sigma=15", 42), expected)


def test_params_are_json_manifests():
    import json

    for name in NOISE_MODELS.names():
        params = build_noise(name).params
        assert params["name"] == name and {"clip", "quantize"} <= set(params)
        assert json.loads(json.dumps(params)) == params

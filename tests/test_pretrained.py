"""Released DnCNN/FFDNet models: registry, mirror-first fetching, MatConvNet conversion, the `pretrained` method."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from denoisebench.errors import ChecksumMismatchError, ConfigError, DatasetError
from denoisebench.fsutil import sha256_file
from denoisebench.pretrained import PRETRAINED, PretrainedSpec, fetch_weights, load_pretrained, weights_mirror

WEIGHTS = Path(__file__).resolve().parents[1].parent / "shared" / "weights"
needs_weights = pytest.mark.skipif(not (WEIGHTS / "checksums.sha256").is_file(),
                                   reason=f"released weights not available at {WEIGHTS}")


def fixed_input(channels: int, sigma: float) -> tuple[np.ndarray, np.ndarray]:
    """A smooth 24x24 image and its noisy version (numpy seed 0), (1, C, H, W)."""
    yy, xx = np.mgrid[0:24, 0:24].astype(np.float32) / 23
    clean = np.stack([0.2 + 0.6 * xx, 0.3 + 0.4 * yy, 0.5 + 0.3 * xx * yy][:channels], 0)[None]
    noise = np.random.default_rng(0).standard_normal(clean.shape).astype(np.float32) * sigma / 255
    return clean + noise, clean


def run(name: str, sigma: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    import torch

    spec = PRETRAINED.get(name)
    noisy, clean = fixed_input(spec.channels, sigma)
    net = load_pretrained(spec, WEIGHTS / spec.local)
    with torch.no_grad():
        x = torch.from_numpy(noisy)
        out = net(x) if spec.arch == "dncnn" else net(x, sigma / 255)
    return noisy, clean, out.numpy()


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    return float(10 * np.log10(1.0 / np.mean((a - b) ** 2)))


@needs_weights
@pytest.mark.parametrize("name, expected", [
    ("dncnn_s25", [0.2638, 0.4546, 0.7482]),
    ("dncnn_color_blind", [0.2745, 0.4411, 0.7553, 0.3889]),
    ("ffdnet_color", [0.2721, 0.4489, 0.7424, 0.3824]),
    ("ffdnet_clip_gray", [0.2638, 0.4581, 0.7429]),
])
def test_converted_output_is_pinned(name: str, expected: list[float]) -> None:
    out = run(name, 25)[2]
    np.testing.assert_allclose(out[0, :, 5][:, [3, 11, 20]].ravel()[:len(expected)], expected, atol=2e-4)


@needs_weights
@pytest.mark.parametrize("name", PRETRAINED.names())
def test_every_released_file_converts_into_a_denoiser(name: str) -> None:
    """Each file type (DnCNN-S, DnCNN-B grey/colour, FFDNet grey/colour, Clip variants) loads and denoises: a
    wrong axis order, phase order or dropped layer leaves the output near the noisy input or worse."""
    sigma = PRETRAINED.get(name).sigma or 25
    noisy, clean, out = run(name, sigma)
    assert psnr(out, clean) > psnr(noisy, clean) + 8


@needs_weights
def test_wrong_file_for_a_model_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="conv layers"):
        load_pretrained(PRETRAINED.get("dncnn_s25"), WEIGHTS / "DnCNN" / "GD_Gray_Blind.mat")
    (tmp_path / "x.mat").write_bytes(b"MATLAB 5.0 MAT-file, not HDF5")
    with pytest.raises(ConfigError, match="not a MATLAB v7.3"):
        load_pretrained(PRETRAINED.get("dncnn_s25"), tmp_path / "x.mat")


def _spec(file: Path) -> PretrainedSpec:
    return PretrainedSpec("toy", "toy", "owner/repo", "0" * 40, "m/toy.mat", "Toy/toy.mat", sha256_file(file),
                          "dncnn", 1, 3)


def test_fetch_copies_from_the_mirror_and_verifies(tmp_path: Path) -> None:
    mirror = tmp_path / "mirror"
    (mirror / "Toy").mkdir(parents=True)
    (mirror / "Toy" / "toy.mat").write_bytes(b"weights")
    spec = _spec(mirror / "Toy" / "toy.mat")
    path = fetch_weights(spec, tmp_path / "root", mirror=mirror, allow_download=False)
    assert path.read_bytes() == b"weights"
    (mirror / "Toy" / "toy.mat").write_bytes(b"corrupt")
    path.unlink()
    with pytest.raises(ChecksumMismatchError, match="sha256 mismatch"):
        fetch_weights(spec, tmp_path / "root", mirror=mirror, allow_download=False)
    assert not path.exists()
    with pytest.raises(DatasetError, match="downloads are disabled"):
        fetch_weights(spec, tmp_path / "root", mirror=tmp_path / "empty", allow_download=False)


def test_weights_mirror_is_beside_the_data_mirror(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import denoisebench.mirror

    monkeypatch.delenv("DENOISEBENCH_WEIGHTS", raising=False)
    monkeypatch.setattr(denoisebench.mirror, "data_mirror", lambda params=None, start=None: tmp_path / "shared" / "data")
    assert weights_mirror() == tmp_path / "shared" / "weights"
    assert weights_mirror(params={"data": {"weights_mirror": str(tmp_path / "p")}}) == tmp_path / "p"
    monkeypatch.setenv("DENOISEBENCH_WEIGHTS", str(tmp_path / "w"))
    assert weights_mirror() == tmp_path / "w"


def test_official_url_is_the_raw_file_at_the_pinned_commit() -> None:
    spec = PRETRAINED.get("dncnn_s25")
    assert spec.url == ("https://raw.githubusercontent.com/cszn/DnCNN/e93b27812d3ff523a3a79d19e5e50d233d7a8d0a/"
                        "model/specifics/sigma%3D25.mat")


def test_pretrained_method_config_errors(tmp_path: Path) -> None:
    from denoisebench.methods import build_method
    from denoisebench.methods.base import DenoiseContext

    with pytest.raises(ConfigError, match="'model' is required"):
        build_method("pretrained", {"weights_root": "x"})
    with pytest.raises(ConfigError, match="takes 1-channel"):
        build_method("pretrained", {"model": "dncnn_s25", "channels": 3})
    method = build_method("pretrained", {"model": "ffdnet_gray", "weights_root": str(tmp_path)})
    assert method.config["channels"] == 1
    with pytest.raises(ConfigError, match="download stage"):
        method.denoise(np.zeros((8, 8, 1), np.float32), DenoiseContext(sigma=25))


def test_download_stage_fetches_the_models_of_pretrained_entries() -> None:
    from denoisebench.stage_support import pretrained_needed

    params = {"profile": "quick", "methods": {"classical": {
        "a": {"method": "pretrained", "model": "dncnn_s25"}, "b": {"method": "bm3d"},
        "c": {"method": "pretrained", "model": "ffdnet_color", "evaluate_on": ["awgn_*"]}}}}
    assert pretrained_needed(params) == ["dncnn_s25", "ffdnet_color"]
    params["methods"]["classical"]["d"] = {"method": "pretrained"}
    with pytest.raises(ConfigError, match="needs a 'model' key"):
        pretrained_needed(params)


@needs_weights
def test_cli_denoise_with_pretrained(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    from denoisebench.cli import main
    from denoisebench.imageio import read_image, write_image

    monkeypatch.setenv("DENOISEBENCH_WEIGHTS", str(WEIGHTS))
    noisy, clean = fixed_input(1, 25)
    write_image(tmp_path / "noisy.npy", noisy[0].transpose(1, 2, 0))
    assert main(["pretrained", "list"]) == 0
    assert "dncnn_color_blind" in capsys.readouterr().out
    argv = ["denoise", "--pretrained", "dncnn_s25", "--input", str(tmp_path / "noisy.npy"), "--output",
            str(tmp_path / "out.npy"), "--weights-root", str(tmp_path / "w"), "--device", "cpu"]
    assert main(argv) == 0
    out = read_image(tmp_path / "out.npy")
    assert psnr(out, clean[0].transpose(1, 2, 0)) > 30

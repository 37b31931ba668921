"""Inputs are read faithfully or refused (issue 14, item 2): bit depth, grey/colour, palette, alpha, bad options."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from clirun import assert_clean_failure, cli
from denoisebench.cli import main
from denoisebench.errors import ConfigError, ImageReadError
from denoisebench.imageio import read_image, read_uint8
from denoisebench.methods.base import DenoiseContext


def write_png16(path: Path, samples: np.ndarray, color_type: int) -> None:
    """A 16-bit-per-sample PNG (Pillow cannot write 16-bit colour): color_type 0 grey, 2 RGB, 4 grey+alpha."""
    h, w = samples.shape[:2]
    raw = b"".join(b"\x00" + samples[i].astype(">u2").tobytes() for i in range(h))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", w, h, 16, color_type, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw))
                     + chunk(b"IEND", b""))


GRADIENT16 = (np.arange(16 * 16, dtype=np.uint32).reshape(16, 16) * 200).astype(np.uint16)  # 0 .. 51000


def test_16bit_grey_png_is_rescaled_not_clipped(tmp_path: Path) -> None:
    Image.fromarray(GRADIENT16).save(tmp_path / "g16.png")
    image = read_image(tmp_path / "g16.png")
    assert image.shape == (16, 16, 1)
    np.testing.assert_allclose(image[:, :, 0], GRADIENT16 / 65535.0, atol=1e-6)
    np.testing.assert_array_equal(read_uint8(tmp_path / "g16.png")[:, :, 0], np.rint(GRADIENT16 / 257.0))


def test_denoise_of_16bit_grey_png_is_not_white(tmp_path: Path) -> None:
    """What the user saw: `denoise` of a 16-bit scan wrote an all-white image with exit 0."""
    Image.fromarray(GRADIENT16).save(tmp_path / "scan.png")
    proc = cli("denoise", "--method", "noisy", "--sigma", "0", "--input", "scan.png", "--output", "out.png",
               cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    out = np.asarray(Image.open(tmp_path / "out.png")).astype(int)
    assert abs(out - np.rint(GRADIENT16 / 257.0)).max() <= 1
    assert (out < 255).mean() > 0.9


def test_16bit_colour_and_grey_alpha_png(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 65536, (4, 5, 3)).astype(np.uint16)
    write_png16(tmp_path / "rgb48.png", rgb, 2)
    np.testing.assert_array_equal(read_uint8(tmp_path / "rgb48.png"), rgb >> 8)  # 8-bit precision, right scale
    grey_alpha = np.stack([GRADIENT16, np.full_like(GRADIENT16, 65535)], axis=2)
    write_png16(tmp_path / "la32.png", grey_alpha, 4)
    assert read_image(tmp_path / "la32.png").shape == (16, 16, 1)  # grey stays grey (Pillow opens it as RGBA)


def test_rgba_with_transparency_warns_and_keeps_colour(tmp_path: Path) -> None:
    rgba = np.zeros((8, 8, 4), np.uint8)
    rgba[..., 0], rgba[..., 3] = 200, 255
    rgba[:2, :, 3] = 0  # 16 transparent pixels
    Image.fromarray(rgba, "RGBA").save(tmp_path / "logo.png")
    proc = cli("denoise", "--method", "noisy", "--sigma", "0", "--input", "logo.png", "--output", "out.png",
               cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "logo.png: alpha channel dropped; 16 of 64 pixels are not fully opaque" in proc.stderr
    assert proc.stderr.count("alpha channel dropped") == 1
    np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "out.png")), rgba[..., :3])


def test_opaque_alpha_is_dropped_silently(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    rgba = np.full((8, 8, 4), 255, np.uint8)
    Image.fromarray(rgba, "RGBA").save(tmp_path / "opaque.png")
    assert read_image(tmp_path / "opaque.png").shape == (8, 8, 3)
    assert "alpha" not in caplog.text


def test_palette_images(tmp_path: Path) -> None:
    grey = np.tile(np.arange(0, 256, 16, dtype=np.uint8), (4, 1))
    Image.fromarray(grey).convert("P").save(tmp_path / "grey_palette.png")
    np.testing.assert_array_equal(read_uint8(tmp_path / "grey_palette.png")[:, :, 0], grey)
    colour = np.zeros((4, 4, 3), np.uint8)
    colour[..., 0], colour[:, 2:, 2] = 255, 128
    Image.fromarray(colour).convert("P", palette=Image.Palette.ADAPTIVE).save(tmp_path / "colour_palette.png")
    np.testing.assert_array_equal(read_uint8(tmp_path / "colour_palette.png"), colour)


def test_float_tiff_and_non_finite_npy_are_refused(tmp_path: Path) -> None:
    Image.fromarray(np.zeros((8, 8), np.float32)).save(tmp_path / "f.tif")
    with pytest.raises(ImageReadError, match=r"f\.tif.*\.npy"):
        read_image(tmp_path / "f.tif")
    np.save(tmp_path / "nan.npy", np.full((8, 8, 3), np.nan, np.float32))
    with pytest.raises(ImageReadError, match="NaN"):
        read_image(tmp_path / "nan.npy")
    np.save(tmp_path / "u8.npy", np.full((8, 8, 1), 255, np.uint8))
    assert read_image(tmp_path / "u8.npy").max() == 1.0  # integer arrays are scaled, not taken as 0..255 floats


@pytest.mark.parametrize("value", ["nan", "-5", "1e9", "inf"])
@pytest.mark.parametrize("command", ["denoise", "synthesize"])
def test_bad_sigma_is_refused_everywhere(value: str, command: str, tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    Image.fromarray(np.zeros((16, 16, 3), np.uint8)).save(tmp_path / "x.png")
    io = ["--input", str(tmp_path / "x.png"), "--output", str(tmp_path / "out.png")] if command == "denoise" else \
        ["--input", str(tmp_path), "--output", str(tmp_path / "out"), "--noise", "awgn"]
    extra = ["--method", "bm3d"] if command == "denoise" else []
    assert main([command, *extra, *io, f"--sigma={value}"]) == 2
    err = capsys.readouterr().err
    assert f"argument --sigma: '{value}' is invalid: expected a finite number in [0, 255]" in err
    assert not (tmp_path / "out.png").exists() and not (tmp_path / "out").exists()


def test_bad_seed_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["denoise", "--method", "noisy", "--input", "x.png", "--output", "y.png", "--seed", "-1"]) == 2
    assert "argument --seed: '-1' is invalid: expected an integer >= 0" in capsys.readouterr().err


@pytest.mark.parametrize("sigma", [float("nan"), -5.0, 1e9])
def test_stage_path_validates_sigma_too(sigma: float) -> None:
    """Stages build a DenoiseContext from params / noise specs: the same validator refuses the same values."""
    with pytest.raises(ConfigError, match=r"sigma=.* is invalid: expected a finite number in \[0, 255\]"):
        DenoiseContext(sigma=sigma)
    with pytest.raises(ConfigError, match=r"'sigma'.*expected a number in \[0, 255\]"):
        from denoisebench.noise import build_noise

        build_noise({"name": "awgn", "sigma": sigma})


def test_bad_sigma_through_the_cli_has_no_traceback(tmp_path: Path) -> None:
    Image.fromarray(np.zeros((16, 16, 3), np.uint8)).save(tmp_path / "x.png")
    proc = cli("denoise", "--method", "bm3d", "--input", "x.png", "--output", "y.png", "--sigma", "nan", cwd=tmp_path)
    assert proc.returncode == 2
    assert_clean_failure(proc, "--sigma", "[0, 255]")
    assert not (tmp_path / "y.png").exists()


def test_stage_option_from_params_goes_through_the_same_validator(tmp_path: Path) -> None:
    """A stage option set in params.yaml (`<stage>.<profile>.sigma`) is checked like the flag."""
    import argparse

    from denoisebench.stage_support import apply_profile_defaults
    from denoisebench.validation import SIGMA, arg_type

    (tmp_path / "params.yaml").write_text("profile: demo\nfig7_003:\n  demo: {sigma: -5}\n")
    parser = argparse.ArgumentParser()
    parser.add_argument("--sigma", type=arg_type(SIGMA, "--sigma"), default=25.0)
    with pytest.raises(ConfigError, match=r"params.yaml: fig7_003.demo.sigma=-5 is invalid: .*\[0, 255\]"):
        apply_profile_defaults(parser, "fig7_003", ["--params", str(tmp_path / "params.yaml")])
    (tmp_path / "params.yaml").write_text("profile: demo\nfig7_003:\n  demo: {sigma: 15}\n")
    apply_profile_defaults(parser, "fig7_003", ["--params", str(tmp_path / "params.yaml")])
    assert parser.parse_args([]).sigma == 15.0

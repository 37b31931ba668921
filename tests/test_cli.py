"""The command line: every subcommand, and the clear errors it gives on bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from denoisebench.cli import main
from denoisebench.imageio import read_image, write_image


@pytest.fixture()
def noisy_image(tmp_path: Path) -> Path:
    from skimage import data

    clean = data.astronaut()[100:164, 180:244].astype(np.float32) / 255
    write_image(tmp_path / "clean" / "astro.png", clean)
    noisy = clean + np.random.default_rng(0).normal(0, 25 / 255, clean.shape).astype(np.float32)
    write_image(tmp_path / "noisy" / "astro.npy", noisy)
    return tmp_path / "noisy" / "astro.npy"


def test_methods_json_lists_paper_kind_and_parameters(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["methods", "--json"]) == 0
    listing = json.loads(capsys.readouterr().out)
    rows = {row["name"]: row for row in listing["methods"]}
    assert {"noisy", "bm3d", "nlm", "tv", "wavelet", "dncnn"} <= set(rows)
    assert rows["bm3d"]["kind"] == "classical" and rows["bm3d"]["parameters"] is None
    assert rows["dncnn"]["kind"] == "supervised" and rows["dncnn"]["parameters"] > 500_000


def test_denoise_file_and_score(noisy_image: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "restored" / "astro.png"
    assert main(["denoise", "--method", "bm3d", "--sigma", "25", "--input", str(noisy_image), "--output", str(out)]) == 0
    assert read_image(out).shape == (64, 64, 3)
    capsys.readouterr()
    assert main(["score", "--reference", str(tmp_path / "clean"), "--restored", str(out.parent), "--json"]) == 0
    scores = json.loads(capsys.readouterr().out)
    assert "astro" in json.dumps(scores)


def test_denoise_folder_estimates_sigma(noisy_image: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["denoise", "--method", "tv", "--input", str(noisy_image.parent), "--output", str(tmp_path / "o")]) == 0
    assert "estimated sigma" in capsys.readouterr().err
    assert (tmp_path / "o" / "astro.png").is_file()


@pytest.mark.parametrize("argv, message", [
    (["denoise", "--method", "bm4d", "--input", "x.png", "--output", "y.png"], "unknown method 'bm4d'"),
    (["datasets", "fetch", "kodak25"], "unknown dataset 'kodak25'"),
    (["synthesize", "--input", ".", "--output", "../o", "--noise", "gauss"], "unknown noise"),
])
def test_unknown_names_are_listed(argv: list[str], message: str, capsys: pytest.CaptureFixture[str],
                                  tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and "valid" in err


def test_learned_method_needs_checkpoint(noisy_image: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["denoise", "--method", "dncnn", "--input", str(noisy_image), "--output", "o.png"]) == 2
    assert "--checkpoint" in capsys.readouterr().err


def test_corrupt_image_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n not really")
    assert main(["denoise", "--method", "noisy", "--input", str(bad), "--output", str(tmp_path / "o.png")]) == 2
    assert "broken.png" in capsys.readouterr().err


def test_score_missing_pair_is_named(noisy_image: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "empty").mkdir()
    write_image(tmp_path / "empty" / "other.png", np.zeros((8, 8, 3), np.float32))
    assert main(["score", "--reference", str(tmp_path / "clean"), "--restored", str(tmp_path / "empty")]) == 2
    assert "astro" in capsys.readouterr().err


def test_bad_noise_param_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_image(tmp_path / "c" / "x.png", np.zeros((8, 8, 3), np.float32))
    assert main(["synthesize", "--input", str(tmp_path / "c"), "--output", str(tmp_path / "o"), "--noise", "awgn",
                 "--sigma", "-5"]) == 2
    assert "sigma" in capsys.readouterr().err


def test_datasets_list(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["datasets", "list"]) == 0
    out = capsys.readouterr().out
    for name in ("kodak24", "cbsd68", "polyu", "sidd_val", "renoir", "demo", "cbdnet_crf"):
        assert name in out

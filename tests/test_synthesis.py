"""Synthesis of noisy test inputs: lossless, seeded, byte-identical on rerun, with a manifest."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from denoisebench.cli import main
from denoisebench.config import Cell
from denoisebench.imageio import read_image, write_image
from denoisebench.synthesis import synthesize_cell, synthesize_folder


def _digest(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture()
def clean_folder(tmp_path: Path) -> Path:
    rng = np.random.default_rng(1)
    folder = tmp_path / "clean"
    for name in ("a", "b"):
        write_image(folder / f"{name}.png", rng.random((24, 32, 3)).astype(np.float32))
    return folder


def test_folder_synthesis_is_byte_identical_and_unclipped(clean_folder: Path, tmp_path: Path) -> None:
    first = synthesize_folder(clean_folder, tmp_path / "n1", "awgn:sigma=25", seed=0)
    second = synthesize_folder(clean_folder, tmp_path / "n2", "awgn:sigma=25", seed=0)
    assert _digest(first) == _digest(second)
    noisy = read_image(first / "a.npy")
    clean = read_image(clean_folder / "a.png")
    assert noisy.dtype == np.float32 and (noisy.min() < 0 or noisy.max() > 1)  # AWGN protocol: not clipped
    assert abs(float((noisy - clean).std()) * 255 - 25) < 2.5
    manifest = json.loads((first / "manifest.json").read_text())
    assert [r["id"] for r in manifest["images"]] == ["a", "b"]
    assert manifest["images"][0]["seed"] != manifest["images"][1]["seed"]


def test_other_seed_gives_other_noise(clean_folder: Path, tmp_path: Path) -> None:
    a = read_image(synthesize_folder(clean_folder, tmp_path / "s0", "awgn:sigma=25", seed=0) / "a.npy")
    b = read_image(synthesize_folder(clean_folder, tmp_path / "s1", "awgn:sigma=25", seed=1) / "a.npy")
    assert not np.array_equal(a, b)


def test_quantized_noise_is_stored_as_png(clean_folder: Path, tmp_path: Path) -> None:
    out = synthesize_folder(clean_folder, tmp_path / "q", "awgn:sigma=25", seed=0, overrides={"clip": True, "quantize": True})
    assert sorted(p.name for p in out.glob("*.png")) == ["a.png", "b.png"]


def test_cli_synthesize_matches_library(clean_folder: Path, tmp_path: Path) -> None:
    assert main(["synthesize", "--input", str(clean_folder), "--noise", "awgn", "--sigma", "25", "--seed", "0",
                 "--output", str(tmp_path / "cli")]) == 0
    lib = synthesize_folder(clean_folder, tmp_path / "lib", "awgn:sigma=25", seed=0)
    assert _digest(tmp_path / "cli") == _digest(lib) or (
        np.array_equal(read_image(tmp_path / "cli" / "a.npy"), read_image(lib / "a.npy")))


def test_cell_from_real_pairs_keeps_noisy_images(shared_data: Path, tmp_path: Path) -> None:
    from denoisebench.datasets import fetch_dataset

    root = tmp_path / "raw"
    fetch_dataset("cc15", root, mirror=shared_data)
    cell = Cell("cc15", "cc15", None, "real", 2)
    out = synthesize_cell(cell, root, tmp_path / "noisy", seed=0, overrides={})
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["label"] == "real" and len(manifest["images"]) == 2
    first = manifest["images"][0]
    assert (out / "noisy" / first["noisy_file"]).suffix == ".png"
    assert read_image(out / "clean" / f"{first['id']}.png").shape == (512, 512, 3)


def test_cropped_real_cell_crops_clean_and_noisy_alike(shared_data: Path, tmp_path: Path) -> None:
    from denoisebench.datasets import fetch_dataset

    root = tmp_path / "raw"
    fetch_dataset("cc15", root, mirror=shared_data)
    whole = synthesize_cell(Cell("cc15", "cc15", None, "real", 1), root, tmp_path / "noisy", seed=0, overrides={})
    crop = synthesize_cell(Cell("cc15_zs", "cc15", None, "real", 1, crop=64), root, tmp_path / "noisy", seed=0,
                           overrides={})
    image_id = json.loads((crop / "manifest.json").read_text())["images"][0]["id"]
    for part in ("clean", "noisy"):
        full = read_image(whole / part / f"{image_id}.png")
        assert np.array_equal(read_image(crop / part / f"{image_id}.png"), full[224:288, 224:288])


def test_repeats_write_realisations_and_keep_the_first_seed(tmp_path: Path) -> None:
    root = tmp_path / "raw"
    single = synthesize_cell(Cell("demo", "demo", "test", "awgn:sigma=25", 1), root, tmp_path / "n1", 0, {})
    repeated = synthesize_cell(Cell("demo", "demo", "test", "awgn:sigma=25", 1, repeats=3), root, tmp_path / "n3",
                               0, {})
    records = json.loads((repeated / "manifest.json").read_text())["images"]
    first_id = json.loads((single / "manifest.json").read_text())["images"][0]["id"]
    assert [r["id"] for r in records] == [f"{first_id}_r{k}" for k in range(3)]
    assert len({r["seed"] for r in records}) == 3
    assert np.array_equal(read_image(repeated / "noisy" / f"{first_id}_r0.npy"),
                          read_image(single / "noisy" / f"{first_id}.npy"))
    assert not np.array_equal(read_image(repeated / "noisy" / f"{first_id}_r1.npy"),
                              read_image(single / "noisy" / f"{first_id}.npy"))
    assert sorted(p.stem for p in (repeated / "clean").iterdir()) == [r["id"] for r in records]


def test_crop_larger_than_image_names_the_set_and_image(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"demo_big.*smaller than the 4096x4096"):
        synthesize_cell(Cell("demo_big", "demo", "test", "awgn:sigma=25", 1, crop=4096), tmp_path / "raw",
                        tmp_path / "noisy", 0, {})

"""Folder scoring: pairing by stem, per-protocol columns, errors, summary and CLI formatting."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from denoisebench.errors import ConfigError, ImageReadError, MissingPairError
from denoisebench.imageio import write_image
from denoisebench.metrics import Protocol, evaluate_pair, get_protocol
from denoisebench.scoring import format_scores, pair_files, score_folders, summarize


@pytest.fixture()
def folders(tmp_path: Path) -> tuple[Path, Path, dict[str, tuple[np.ndarray, np.ndarray]]]:
    """Three references (RGB PNG, grey PNG, RGB PNG) and restored outputs as .npy float, PNG and .npy."""
    rng = np.random.default_rng(5)
    ref_dir, out_dir = tmp_path / "ref", tmp_path / "out"
    ref_dir.mkdir(), out_dir.mkdir()
    data = {}
    for stem, shape, suffix in (("a", (24, 20, 3), ".npy"), ("b", (18, 20, 1), ".png"), ("c", (20, 20, 3), ".npy")):
        ref = rng.integers(0, 256, size=shape, dtype=np.uint8)
        out = (ref / 255.0 + rng.normal(0, 0.05, shape)).astype(np.float32)
        write_image(ref_dir / f"{stem}.png", ref)
        write_image(out_dir / f"{stem}{suffix}", out)
        data[stem] = (ref, out if suffix == ".npy" else np.clip(np.rint(out * 255.0), 0, 255).astype(np.uint8))
    return ref_dir, out_dir, data


def test_score_folders_default_matches_evaluate_pair(folders):
    ref_dir, out_dir, data = folders
    df = score_folders(ref_dir, out_dir)
    assert list(df.columns) == ["image", "psnr", "ssim"]
    assert df["image"].tolist() == ["a", "b", "c"]
    for _, row in df.iterrows():
        expected = evaluate_pair(*data[row["image"]])
        assert row["psnr"] == pytest.approx(expected["psnr"], abs=1e-12)
        assert row["ssim"] == pytest.approx(expected["ssim"], abs=1e-12)
    assert df.attrs["protocols"]["default"]["quant"] == "round"


def test_score_folders_several_protocols(folders):
    ref_dir, out_dir, data = folders
    df = score_folders(ref_dir, out_dir, {"default": Protocol(), "durn": "durn", "shave3": {"border": 3}})
    assert list(df.columns) == ["image", "psnr", "ssim", "psnr_durn", "ssim_durn", "psnr_shave3", "ssim_shave3"]
    ref, out = data["a"]
    row = df.set_index("image").loc["a"]
    assert row["psnr_durn"] == pytest.approx(evaluate_pair(ref, out, get_protocol("durn"))["psnr"], abs=1e-12)
    assert row["ssim_shave3"] == pytest.approx(evaluate_pair(ref, out, Protocol(border=3))["ssim"], abs=1e-12)
    assert df.attrs["protocols"]["shave3"]["columns"] == ["psnr_shave3", "ssim_shave3"]
    # The first protocol gives the unsuffixed columns, whatever its name.
    df2 = score_folders(ref_dir, out_dir, {"durn": "durn"})
    assert df2["psnr"].tolist() == df["psnr_durn"].tolist()


def test_parallel_equals_serial(folders):
    ref_dir, out_dir, _ = folders
    assert score_folders(ref_dir, out_dir, workers=3).equals(score_folders(ref_dir, out_dir))


def test_missing_pairs_name_the_files(folders):
    ref_dir, out_dir, _ = folders
    (out_dir / "b.png").unlink()
    with pytest.raises(MissingPairError, match=r"no restored image in .* for b\.png"):
        score_folders(ref_dir, out_dir)
    write_image(out_dir / "b.npy", np.zeros((18, 20, 1), np.float32))
    write_image(out_dir / "z.npy", np.zeros((4, 4, 1), np.float32))
    with pytest.raises(MissingPairError, match=r"no reference in .* for z\.npy"):
        pair_files(ref_dir, out_dir)


def test_ambiguous_stem_and_empty_folder(folders, tmp_path):
    ref_dir, out_dir, _ = folders
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(MissingPairError, match="no reference images"):
        pair_files(empty, out_dir)
    write_image(out_dir / "a.png", np.zeros((24, 20, 3), np.uint8))
    with pytest.raises(MissingPairError, match=r"a\.npy and a\.png share the stem 'a'"):
        pair_files(ref_dir, out_dir)
    with pytest.raises(ImageReadError, match="no such folder of images"):
        pair_files(tmp_path / "nope", out_dir)


def test_unreadable_and_mismatched_images_are_named(folders):
    ref_dir, out_dir, _ = folders
    (out_dir / "c.npy").write_bytes(b"not numpy")
    with pytest.raises(ImageReadError, match=r"c\.npy"):
        score_folders(ref_dir, out_dir)
    write_image(out_dir / "c.npy", np.zeros((20, 21, 3), np.float32))
    with pytest.raises(ValueError, match=r"c\.png vs .*c\.npy: reference shape \(20, 20, 3\) != restored shape"):
        score_folders(ref_dir, out_dir)


def test_bad_protocol_arguments(folders):
    ref_dir, out_dir, _ = folders
    with pytest.raises(ConfigError, match="empty"):
        score_folders(ref_dir, out_dir, {})
    with pytest.raises(ConfigError, match="quant"):
        score_folders(ref_dir, out_dir, {"x": {"quant": "nope"}})
    with pytest.raises(ConfigError, match="name 'my-protocol'"):
        score_folders(ref_dir, out_dir, {"my-protocol": Protocol()})


def test_summarize_and_format(folders):
    ref_dir, out_dir, _ = folders
    df = score_folders(ref_dir, out_dir, {"default": "default", "sidd": "sidd"})
    summary = summarize(df)
    assert summary["n_images"] == 3
    assert summary["psnr"] == pytest.approx(df["psnr"].mean())
    assert summary["ssim_sidd"] == pytest.approx(df["ssim_sidd"].mean())
    text = format_scores(df)
    assert "default: RGB, output clipped and rounded to uint8" in text
    assert f"mean {summary['psnr']:.4f}" in " ".join(text.split())
    assert text.rstrip().endswith("n_images: 3")
    payload = json.loads(format_scores(df, as_json=True))
    assert payload["n_images"] == 3
    assert [r["image"] for r in payload["images"]] == ["a", "b", "c"]
    assert payload["mean"]["psnr_sidd"] == pytest.approx(summary["psnr_sidd"])
    assert payload["protocols"]["sidd"]["quant"] == "float"


def test_identical_folders_give_inf_and_json_null(tmp_path):
    ref_dir = tmp_path / "ref"
    ref_dir.mkdir()
    write_image(ref_dir / "x.png", np.full((12, 12, 3), 77, np.uint8))
    df = score_folders(ref_dir, ref_dir)
    assert df["psnr"].tolist() == [math.inf]
    assert summarize(df)["psnr"] == math.inf
    payload = json.loads(format_scores(df, as_json=True))
    assert payload["images"][0]["psnr"] is None and payload["mean"]["psnr"] is None
    assert payload["images"][0]["ssim"] == pytest.approx(1.0)

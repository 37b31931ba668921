"""Issue 13: GoPro / RESIDE / DID-MDN declarations and their loaders (mirrored folders, side-by-side pairs)."""

from __future__ import annotations

import numpy as np
import pytest

from denoisebench.datasets import get_spec, list_samples
from denoisebench.errors import DatasetError
from denoisebench.imageio import write_image


def _img(value: float, h: int = 8, w: int = 10) -> np.ndarray:
    return np.full((h, w, 3), value, np.float32)


def test_declared_with_official_sources_and_no_fake_hashes() -> None:
    for name in ("gopro_test", "gopro_train", "reside_sots_indoor", "reside_its", "did_mdn_test"):
        spec = get_spec(name)
        assert spec.homepage.startswith("https://") and all(f.archive and f.sha256 is None for f in spec.files)
    assert get_spec("gopro_test").layout.within == "test" and get_spec("gopro_train").role == "train"


def test_mirrored_layout_pairs_inputs_with_references(tmp_path) -> None:
    base = tmp_path / "GoPro" / "GOPRO_Large"
    for split, value in (("test", 0.2), ("train", 0.6)):
        write_image(base / split / "GOPR0384_11_00" / "blur" / "000001.png", _img(value))
        write_image(base / split / "GOPR0384_11_00" / "sharp" / "000001.png", _img(value + 0.1))
    samples = list_samples("gopro_test", tmp_path)
    assert [s.id for s in samples] == ["GOPRO_Large_test_GOPR0384_11_00_000001"]
    assert samples[0].noisy().mean() == pytest.approx(0.2, abs=1 / 255)
    assert samples[0].clean().mean() == pytest.approx(0.3, abs=1 / 255)
    sots = tmp_path / "RESIDE_SOTS" / "SOTS"
    write_image(sots / "indoor" / "hazy" / "1400_1.png", _img(0.8))
    write_image(sots / "indoor" / "gt" / "1400.png", _img(0.4))
    write_image(sots / "outdoor" / "hazy" / "0001_0.8_0.2.png", _img(0.9))
    (hazy,) = list_samples("reside_sots_indoor", tmp_path)
    assert hazy.clean_path.name == "1400.png" and hazy.noisy().mean() > hazy.clean().mean()
    (tmp_path / "empty" / "GoPro").mkdir(parents=True)
    with pytest.raises(DatasetError, match="blur/ images with sharp/ references"):
        list_samples("gopro_test", tmp_path / "empty")


def test_side_by_side_layout_splits_halves(tmp_path) -> None:
    pair = np.concatenate([_img(0.9), _img(0.1)], axis=1)
    write_image(tmp_path / "DID-MDN" / "DID-MDN-datasets" / "DID-MDN-test" / "1.png", pair)
    write_image(tmp_path / "DID-MDN" / "DID-MDN-datasets" / "DID-MDN-training" / "1.png", pair)
    (sample,) = list_samples("did_mdn_test", tmp_path)
    assert sample.noisy().shape == (8, 10, 3) and sample.noisy().mean() > 0.8 and sample.clean().mean() < 0.2

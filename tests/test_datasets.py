"""Dataset registry, checksums, mirror fetching, splits and loading (offline, real mirror data)."""

from __future__ import annotations

import shutil
import socket
from collections import Counter
from pathlib import Path, PurePosixPath

import numpy as np
import pytest

from denoisebench.datasets import (
    DATASETS,
    POLYU_TEST_SCENES,
    dataset_dir,
    fetch_dataset,
    format_dataset_table,
    format_verify_reports,
    get_spec,
    list_samples,
    polyu_scene,
    verify_dataset,
)
from denoisebench.datasets.polyu import hash_split_scenes, parse_polyu_name
from denoisebench.datasets.spec import read_checksums
from denoisebench.errors import ChecksumMismatchError, ConfigError, DatasetError, UnknownNameError

EXPECTED = {
    "kodak24": "Kodak24", "cbsd68": "CBSD68", "bsd68_gray": "BSD68_gray", "set12": "Set12", "set14": "Set14",
    "live1": "LIVE1", "cbsd432": "CBSD432", "bsd400_gray": "BSD400_gray", "polyu": "PolyU", "cc15": "CC15",
    "sidd_val": "SIDD", "renoir": "RENOIR", "demo": "demo", "cbdnet_crf": "CBDNet_CRF",
    # issue 13 (paper 002): restoration sets
    "gopro_test": "GoPro", "gopro_train": "GoPro", "reside_sots_indoor": "RESIDE_SOTS", "reside_its": "RESIDE_ITS",
    "did_mdn_test": "DID-MDN",
    "did_mdn_train": "DID-MDN",
    "div2k": "DIV2K", "sidd_small": "SIDD_Small",  # paper 001 (issue 12)
}


@pytest.fixture(autouse=True)
def _no_found_mirror(no_mirror: None) -> None:
    """Mirrors are passed explicitly here; none is discovered."""


def _mirror_checksums(shared_data: Path) -> dict[str, dict[str, str]]:
    by_folder: dict[str, dict[str, str]] = {}
    for line in (shared_data / "checksums.sha256").read_text().splitlines():
        digest, _, path = line.partition("  ")
        folder, _, rel = path.partition("/")
        by_folder.setdefault(folder, {})[rel] = digest
    return by_folder


def test_registry_names_folders_and_unknown_name() -> None:
    assert {n: get_spec(n).folder for n in DATASETS.names()} == EXPECTED
    with pytest.raises(UnknownNameError, match="valid names: .*kodak24"):
        get_spec("kodak25")


def test_checksum_files_match_mirror_and_declared_files(shared_data: Path) -> None:
    mirror = _mirror_checksums(shared_data)
    covered = set()
    for name in DATASETS.names():
        spec = get_spec(name)
        if spec.folder not in mirror:
            continue
        covered.add(spec.folder)
        declared = {f.path: f.sha256 for f in spec.files}
        assert declared == mirror[spec.folder] == dict(read_checksums(name)), name
        assert all(f.url and f.url.startswith(("https://raw.githubusercontent.com/", "http://r0k.us/"))
                   for f in spec.files), name
    assert covered == set(mirror)  # every mirrored folder is declared
    assert get_spec("kodak24").file("kodim01.png").url == "http://r0k.us/graphics/kodak/kodak/kodim01.png"
    polyu_url = get_spec("polyu").file("clean/Canon5D2_5_160_3200_chair_11.JPG").url
    assert polyu_url.endswith("/3af0f2646b267a00446fe4b7113a15e67bc80b4e/CroppedImages/"
                              "Canon5D2_5_160_3200_chair_11_mean.JPG")
    assert get_spec("sidd_val").files[0].sha256 is None and get_spec("renoir").files[0].archive


def test_train_sets_exclude_test_images() -> None:
    def stems(name):
        return {PurePosixPath(f.path).stem for f in get_spec(name).files}
    assert len(stems("cbsd432")) == 432 and not stems("cbsd432") & stems("cbsd68")


def test_fetch_from_mirror_then_verify_and_load(shared_data: Path, tmp_path: Path) -> None:
    folder = fetch_dataset("set12", tmp_path, mirror=shared_data, allow_download=False)
    assert folder == dataset_dir("set12", tmp_path) == tmp_path / "Set12"
    report = verify_dataset("set12", tmp_path)
    assert report.ok and len(report.ok_files) == 12 and "OK (12 files" in format_verify_reports([report])
    mtimes = {p.name: p.stat().st_mtime_ns for p in folder.iterdir()}
    fetch_dataset("set12", tmp_path, mirror=shared_data, allow_download=False)  # verified files are skipped
    assert {p.name: p.stat().st_mtime_ns for p in folder.iterdir()} == mtimes
    samples = list_samples("set12", tmp_path)
    assert [s.id for s in samples][:3] == ["01", "02", "03"] and samples[0].noisy() is None
    img = samples[0].clean()
    assert img.dtype == np.float32 and img.shape == (256, 256, 1) and 0 <= img.min() and img.max() <= 1
    assert len(list_samples("set12", tmp_path, limit=4)) == 4


def test_env_mirror_and_missing_mirror_errors(shared_data: Path, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(DatasetError, match="DENOISEBENCH_MIRROR"):
        fetch_dataset("cbdnet_crf", tmp_path, allow_download=False)
    monkeypatch.setenv("DENOISEBENCH_MIRROR", str(shared_data))
    assert verify_dataset("cbdnet_crf", fetch_dataset("cbdnet_crf", tmp_path, allow_download=False).parent).ok
    with pytest.raises(ConfigError, match="auxiliary"):
        list_samples("cbdnet_crf", tmp_path)


def test_corrupt_mirror_copy_names_expected_and_actual(shared_data: Path, tmp_path: Path) -> None:
    mirror = tmp_path / "mirror"
    shutil.copytree(shared_data / "Set12", mirror / "Set12")
    bad = mirror / "Set12" / "05.png"
    bad.write_bytes(bad.read_bytes()[:-1] + b"\x00")
    expected = get_spec("set12").file("05.png").sha256
    with pytest.raises(ChecksumMismatchError) as info:
        fetch_dataset("set12", tmp_path / "data", mirror=mirror, allow_download=False)
    msg = str(info.value)
    assert expected in msg and str(bad) in msg and "actual" in msg and "05.png" in msg
    assert not (tmp_path / "data" / "Set12" / "05.png").exists()
    assert not [p for p in (tmp_path / "data" / "Set12").iterdir() if p.name.startswith(".")]
    report = verify_dataset("set12", tmp_path / "data")
    assert not report.ok and report.missing == [f"{n:02d}.png" for n in range(5, 13)]
    # a file changed after fetching is reported as mismatched
    (tmp_path / "data" / "Set12" / "01.png").write_bytes(b"x")
    assert verify_dataset("set12", tmp_path / "data").mismatched[0][0] == "01.png"


def test_kodak24_from_mirror(shared_data: Path) -> None:
    samples = list_samples("kodak24", shared_data)
    assert [s.id for s in samples] == [f"kodim{i:02d}" for i in range(1, 25)]
    shapes = Counter(s.clean().shape for s in samples)
    assert shapes == {(512, 768, 3): 18, (768, 512, 3): 6}


def test_polyu_split_by_scene(shared_data: Path) -> None:
    spec = get_spec("polyu")
    train, test = spec.split_ids["train"], spec.split_ids["test"]
    assert spec.splits == ("all", "train", "test") and len(train) == 67 and len(test) == 33
    assert not {polyu_scene(i) for i in train} & {polyu_scene(i) for i in test}
    all_ids = [PurePosixPath(f.path).stem for f in spec.files if f.path.startswith("noisy/")]
    assert sorted(train + test) == sorted(all_ids)
    assert hash_split_scenes(polyu_scene(i) for i in all_ids) == POLYU_TEST_SCENES
    assert {i.split("_")[0] for i in test} == {"Canon5D2", "Canon600D", "Canon80D", "NikonD800", "Sony"}
    assert parse_polyu_name("NikonD800_6-3_125_5000_plant__4.JPG")["scene"] == "plant"
    with pytest.raises(DatasetError, match="Camera_aperture"):
        parse_polyu_name("chair_11.JPG")
    samples = list_samples("polyu", shared_data, split="test")
    assert [s.id for s in samples] == list(test)
    noisy, clean = samples[0].noisy(), samples[0].clean()
    assert noisy.shape == clean.shape == (512, 512, 3) and 0 < np.abs(noisy - clean).mean() < 0.1
    with pytest.raises(ConfigError, match="valid splits: all, train, test"):
        list_samples("polyu", shared_data, split="val")


def test_cc15_pairs(shared_data: Path) -> None:
    samples = list_samples("cc15", shared_data)
    assert len(samples) == 15 and samples[0].id == "5dmark3_iso3200_1" and samples[0].has_noisy
    assert samples[0].noisy().shape == samples[0].clean().shape == (512, 512, 3)


def test_demo_needs_no_network(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the demo dataset must not touch the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    assert fetch_dataset("demo", tmp_path) == tmp_path / "demo" and verify_dataset("demo", tmp_path).ok
    test = list_samples("demo")
    assert [s.id for s in test] == ["astronaut", "coffee", "chelsea"]
    assert all(s.clean().shape == (128, 128, 3) and s.noisy() is None for s in test)
    gray = list_samples("demo", split="test_gray")[0].clean()
    assert gray.shape == (128, 128, 1) and gray.dtype == np.float32
    train = list_samples("demo", split="train_gray")
    assert [s.clean().shape for s in train] == [(256, 256, 1)] * 3
    assert not {s.id for s in train} & {s.id for s in test}
    assert len(list_samples("demo", split="all")) == 6
    with pytest.raises(ConfigError, match="test_gray"):
        list_samples("demo", split="validation")


def test_dataset_table_and_missing_folder(tmp_path: Path) -> None:
    table = format_dataset_table()
    lines = table.splitlines()
    assert lines[0].split()[:6] == ["name", "kind", "role", "color", "files", "splits"]
    assert len(lines) == 2 + len(DATASETS) and any(line.startswith("sidd_val  ") for line in lines)
    with pytest.raises(DatasetError, match="datasets fetch set14"):
        list_samples("set14", tmp_path)

"""The rehearsal fixtures (issue 23): every dataset the paper profile reads, built in its published layout, fetched
through a mirror and listed by the registered, unchanged loader for every split the paper profile uses."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import pytest
from PIL import Image

from denoisebench.config import load_params
from denoisebench.datasets import fetch_dataset, get_spec, list_samples
from denoisebench.datasets.fixtures import build_fixture
from denoisebench.errors import DatasetError
from denoisebench.mirror import data_mirror
from denoisebench.stage_support import datasets_needed

REPO = Path(__file__).resolve().parents[1]
MIRROR = data_mirror()
#: Sets a paper schedule reads inside a nested ``task_data`` (paper 002) as well as the profile's own sets.
TASK_DATA = ("gopro_train", "reside_its", "did_mdn_train")
#: (dataset, split) -> the largest patch a paper schedule crops from it (params.yaml train.*.paper; DuRN's 256 px
#: crops of DIV2K come after halving it; paper 001's stage-2 pool crops 128 px of SIDD-Small and PolyU train).
PATCHES = {("cbsd432", None): 256, ("bsd400_gray", None): 40, ("div2k", "train"): 512, ("sidd_small", None): 128,
           ("polyu", "train"): 128, ("reside_its", None): 256, ("did_mdn_train", None): 256}


def _paper_params() -> dict[str, Any]:
    params = load_params(REPO / "params.yaml")
    params["profile"] = "paper"
    return params


def _walk(node: Any, in_paper: bool = False) -> Iterator[tuple[str, str | None]]:
    """(dataset, split) of every mapping with a ``dataset`` key, and every ``pool`` item, below a ``paper`` key."""
    if isinstance(node, dict):
        if in_paper and isinstance(node.get("dataset"), str):
            yield node["dataset"], node.get("split")
        if in_paper and isinstance(node.get("pool"), list):
            for item in node["pool"]:
                name, _, split = str(item).partition("/")
                yield name, split or node.get("pool_split")
        for key, value in node.items():
            yield from _walk(value, in_paper or key == "paper")
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value, in_paper)


def _used_splits() -> dict[str, set[str | None]]:
    params = _paper_params()
    used: dict[str, set[str | None]] = {name: {None} for name in (*datasets_needed(params), *TASK_DATA)}
    for name, split in _walk(params):
        if name in used or name in TASK_DATA:
            used.setdefault(name, set()).add(split)
    return used


USED = _used_splits()


def test_the_paper_profile_needs_what_this_test_builds() -> None:
    """The walk finds the splits the rehearsal depends on (a params change that drops them would hide a gap)."""
    assert {"train", "valid"} <= USED["div2k"] and "train" in USED["polyu"] and "test" in USED["polyu"]
    assert {"sidd_small", "sidd_val", "renoir", "gopro_test", "cbdnet_crf", *TASK_DATA} <= set(USED)


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> tuple[Path, Path, dict[str, tuple]]:
    """Every needed set built into one mirror-shaped folder and fetched from it into a data root."""
    out, root = tmp_path_factory.mktemp("fixtures"), tmp_path_factory.mktemp("data")
    entries = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # fixture files have no published hash: recorded on first fetch
        for name in sorted(USED):
            if MIRROR is None and get_spec(name).kind == "aux":
                continue  # its fixture is the real tables of the mirror
            entries[name] = build_fixture(name, out, mirror=MIRROR)
            fetch_dataset(get_spec(name).with_files(entries[name]), root, mirror=out)
    return out, root, entries


@pytest.mark.parametrize("name", sorted(USED))
def test_every_used_split_lists_matching_pairs(built, name) -> None:
    out, root, entries = built
    spec = get_spec(name)
    if name not in entries:
        pytest.skip(f"{name}: its fixture is copied from the data mirror (../shared/data), which is absent")
    assert [e.path for e in entries[name]] == [f.path for f in spec.files if f.path in {e.path for e in entries[name]}]
    assert all((out / spec.folder / e.path).stat().st_size == e.size for e in entries[name])
    if spec.kind == "aux":  # tables, not images: the real bytes
        assert [e.sha256 for e in entries[name]] == [f.sha256 for f in spec.files]
        return
    for split in USED[name]:
        samples = list_samples(name, root, split=split)
        assert samples, f"{name} split {split}: no samples"
        for sample in samples[:3]:
            clean, noisy = sample.clean(), sample.noisy()
            assert clean.ndim == 3 and clean.shape[-1] in (1, 3)
            if noisy is not None:
                assert noisy.shape == clean.shape and not np.array_equal(noisy, clean)
            patch = PATCHES.get((name, split), 0)
            assert min(clean.shape[:2]) >= patch, f"{name}/{split}: {clean.shape} below the paper's {patch} px patch"
    for sample in list_samples(name, root):
        if sample.clean_path is not None and spec.color != "mixed":
            assert sample.clean().shape[-1] == {"gray": 1, "rgb": 3}[spec.color]


@pytest.mark.skipif(MIRROR is None, reason="the data mirror (../shared/data) is absent")
def test_files_of_mirrored_sets_have_the_real_files_names_and_channels(built) -> None:
    """Where the real set is in the mirror, the fixture holds the same paths with the same number of channels
    (Set14's grey bridge.png included)."""
    out, _, entries = built
    checked = 0
    for name, files in entries.items():
        spec = get_spec(name)
        if spec.kind not in ("clean", "paired"):
            continue
        for entry in files:
            real = MIRROR / spec.folder / entry.path
            if not real.is_file():
                continue
            fixture = Image.open(out / spec.folder / entry.path)
            assert len(fixture.getbands()) == len(Image.open(real).getbands()), f"{name}/{entry.path}"
            assert fixture.format == Image.open(real).format, f"{name}/{entry.path}"
            checked += 1
    assert checked > 1000


def test_shared_archives_are_one_fixture_and_total_size_is_small(built) -> None:
    _, _, entries = built
    assert entries["gopro_train"] == entries["gopro_test"] and entries["did_mdn_train"] == entries["did_mdn_test"]
    assert entries, "nothing built"
    unique = {e.sha256: e.size for files in entries.values() for e in files}
    assert sum(unique.values()) < 30_000_000


@pytest.mark.parametrize("name", ["set14", "cc15", "sidd_val", "div2k", "gopro_test", "did_mdn_test", "renoir"])
def test_the_same_call_writes_the_same_bytes(tmp_path, name) -> None:
    first = build_fixture(name, tmp_path / "a", images=1)
    second = build_fixture(name, tmp_path / "b", images=1)
    assert first == second and first
    for entry in first:
        assert (tmp_path / "a" / get_spec(name).folder / entry.path).read_bytes() == (
            tmp_path / "b" / get_spec(name).folder / entry.path).read_bytes()


def test_bad_name_and_missing_mirror_say_what_to_do(tmp_path) -> None:
    with pytest.raises(DatasetError, match=r"no dataset 'kodak25'.*known datasets: .*kodak24"):
        build_fixture("kodak25", tmp_path)
    with pytest.raises(DatasetError, match="cbdnet_crf.*pass mirror="):
        build_fixture("cbdnet_crf", tmp_path, mirror=None)
    assert not (tmp_path / "CBDNet_CRF").exists()


def test_paper_002_task_pools_crop_the_paper_patch_from_the_fixtures(built) -> None:
    """DuRN's paper schedule reads its task_data through TaskPool (GoPro resized to 640x360, DIV2K halved) and
    crops 256 px from every task."""
    from denoisebench.papers.p002_durn_mtl.pairs import TaskPool

    _, root, _ = built
    schedule = _paper_params()["train"]["durn_rbh"]["paper"]
    for task, item in schedule["task_data"].items():
        noisy, clean = TaskPool(item, root).sample(1, schedule["patch_size"], np.random.default_rng(0))
        assert clean.shape == (1, 3, 256, 256), task
        assert noisy is None or noisy.shape == clean.shape


@pytest.mark.parametrize("name", ["set12", "sidd_val", "gopro_test", "reside_sots_indoor"])
def test_fixture_downloads_over_http_through_a_sources_entry(file_server, tmp_path, name) -> None:
    """Served over HTTP and described by a ``data.sources`` entry (base URL, the returned paths, sha256 and sizes),
    a fixture is downloaded, checked and listed (RESIDE declares no URL: the source gives it one)."""
    from denoisebench.sources import sourced_spec

    base, folder = file_server
    spec = get_spec(name)
    entries = build_fixture(name, folder)
    source = {"base_url": f"{base}/{spec.folder}",
              "files": [{"path": e.path, "sha256": e.sha256, "size": e.size} for e in entries]}
    fetch_dataset(sourced_spec(name, {name: source}), tmp_path / "data", mirror=tmp_path / "no-mirror")
    assert list_samples(name, tmp_path / "data")


LISTS = REPO.parent / "shared" / "reference" / "DualResidualNetworks" / "lists"


@pytest.mark.skipif(not LISTS.is_dir(), reason="the authors' file lists (../shared/reference) are absent")
def test_paper_002_fixture_names_are_in_the_authors_lists(built) -> None:
    """GoPro, RESIDE and DID-MDN fixtures use sample names the DuRN file lists hold (so lists-based splits fit)."""
    _, root, _ = built
    lists = {"gopro_train": "GoPro/train_list.txt", "gopro_test": "GoPro/test_list.txt",
             "reside_its": "RESIDE_indoor/train_list.txt", "reside_sots_indoor": "RESIDE_indoor/sots_test_list.txt",
             "did_mdn_train": "DIDMDN_Data/trainlist.txt", "did_mdn_test": "DIDMDN_Data/testlist.txt"}
    for name, listed in lists.items():
        names = set((LISTS / listed).read_text().split())
        paths = [s.clean_path for s in list_samples(name, root)]
        refs = {f"{p.parent.parent.name}/{p.name}" if name.startswith("gopro") else p.name for p in paths}
        assert refs and refs <= names, f"{name}: {sorted(refs - names)} not in {listed}"

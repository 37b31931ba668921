"""Paper 002's paired sets on small generated fixtures in the published layouts, their samples named by the
authors' file lists (``../shared/reference/DualResidualNetworks/lists``; skipped when absent). GoPro, the one set
with a direct URL, is fetched over a local HTTP server as the SIDD/RENOIR tests do."""

from __future__ import annotations

import functools
import io
import threading
import zipfile
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from denoisebench.datasets import UnverifiedDownloadWarning, fetch_dataset, get_spec, list_samples
from denoisebench.papers.p002_durn_mtl.pairs import TaskPool

LISTS = Path(__file__).resolve().parents[1] / ".." / "shared" / "reference" / "DualResidualNetworks" / "lists"
if not LISTS.is_dir():
    pytest.skip(f"the authors' file lists {LISTS.resolve()} are absent (../shared/reference)", allow_module_level=True)


def _list(name: str, n: int = 3) -> list[str]:
    return (LISTS / name).read_text().split()[:n]


def _png(value: int, size: tuple[int, int] = (24, 16)) -> bytes:
    """A small RGB image (w, h) whose pixels encode ``value`` (so pairs can be told apart)."""
    rng = np.random.default_rng(value)
    buf = io.BytesIO()
    Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)).save(buf, format="PNG")
    return buf.getvalue()


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


@pytest.fixture
def http_root(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    served = tmp_path / "served"
    served.mkdir()
    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(served))
    handler.log_message = lambda *a, **k: None  # type: ignore[method-assign]
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", served
    finally:
        server.shutdown()
        server.server_close()


def test_gopro_fetched_over_http_in_the_official_layout_gives_the_listed_pairs(http_root, tmp_path) -> None:
    base, served = http_root
    listed = {split: _list(f"GoPro/{split}_list.txt") for split in ("train", "test")}
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        for split, names in listed.items():
            for i, name in enumerate(names):
                seq, frame = name.split("/")
                archive.writestr(f"{split}/{seq}/blur/{frame}", _png(2 * i))
                archive.writestr(f"{split}/{seq}/sharp/{frame}", _png(2 * i + 1))
    _write(served / "GOPRO_Large.zip", buf.getvalue())
    root = tmp_path / "data"
    with pytest.warns(UnverifiedDownloadWarning):  # no published hash: recorded on first download
        fetch_dataset(get_spec("gopro_train").with_base_url(base), root)
    for split, names in listed.items():
        fetch_dataset(get_spec(f"gopro_{split}").with_base_url(base), root)  # the same archive, already here
        samples = list_samples(f"gopro_{split}", root)
        ids = {s.id for s in samples}
        assert ids == {f"GOPRO_Large_{split}_{n.replace('/', '_').removesuffix('.png')}" for n in names}
        for i, name in enumerate(names):
            seq, frame = name.split("/")
            sample = next(s for s in samples if s.id.endswith(f"{seq}_{frame[:-4]}"))
            assert sample.noisy_path.parent.name == "blur" and sample.clean_path.parent.name == "sharp"
            assert np.array_equal(np.asarray(Image.open(sample.noisy_path)), np.asarray(Image.open(
                io.BytesIO(_png(2 * i)))))


def test_reside_sots_and_its_pair_each_hazy_image_with_its_listed_clear_image(tmp_path) -> None:
    sots_ids = [n.removesuffix(".png") for n in _list("RESIDE_indoor/sots_test_list.txt", 2)]
    its_ids = [n.removesuffix(".png") for n in _list("RESIDE_indoor/train_list.txt", 2)]
    sots = tmp_path / "RESIDE_SOTS" / "SOTS" / "indoor"
    for j, cid in enumerate(sots_ids):
        _write(sots / "gt" / f"{cid}.png", _png(100 + j))
        for k in range(1, 11):
            _write(sots / "hazy" / f"{cid}_{k}.png", _png(1000 + 10 * j + k))
    its = tmp_path / "RESIDE_ITS" / "ITS"
    for j, cid in enumerate(its_ids):
        _write(its / "clear" / f"{cid}.png", _png(200 + j))
        for k, beta in ((1, "0.73"), (2, "0.91")):
            _write(its / "hazy" / f"{cid}_{k}_{beta}.png", _png(2000 + 10 * j + k))
    test = list_samples("reside_sots_indoor", tmp_path)
    assert len(test) == 10 * len(sots_ids)  # ten hazy versions per listed clear image
    for sample in test:
        assert sample.clean_path.stem == sample.noisy_path.stem.split("_")[0] in sots_ids
    train = list_samples("reside_its", tmp_path)
    assert sorted({s.clean_path.stem for s in train}) == sorted(its_ids) and len(train) == 2 * len(its_ids)


def test_did_mdn_splits_side_by_side_pairs_left_rainy_right_clean(tmp_path) -> None:
    train_names, test_names = _list("DIDMDN_Data/trainlist.txt", 2), _list("DIDMDN_Data/testlist.txt", 2)
    folder = tmp_path / "DID-MDN" / "DID-MDN-datasets"
    pair = np.concatenate([np.full((8, 8, 3), 50, np.uint8), np.full((8, 8, 3), 200, np.uint8)], axis=1)
    for name in test_names:
        Image.fromarray(pair).save(_mk(folder / "DID-MDN-test" / name))
    for density in ("Rain_Heavy", "Rain_Medium", "Rain_Light"):
        for name in train_names:
            Image.fromarray(pair).save(_mk(folder / "DID-MDN-training" / density / "train2018new" / name))
    test, train = list_samples("did_mdn_test", tmp_path), list_samples("did_mdn_train", tmp_path)
    assert len(test) == len(test_names) and len(train) == 3 * len(train_names)
    assert {s.noisy_path.name for s in test} == set(test_names)
    for sample in (test[0], train[0]):
        assert sample.noisy().shape == sample.clean().shape == (8, 8, 3)
        assert abs(float(sample.noisy().mean()) - 50 / 255) < 0.02 and abs(float(sample.clean().mean()) - 200 / 255) < 0.02


def _mk(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def test_task_pool_crops_pairs_resizes_gopro_and_halves_div2k(tmp_path) -> None:
    folder = tmp_path / "DID-MDN" / "x" / "DID-MDN-test"
    ramp = np.tile(np.arange(64, dtype=np.uint8)[None, :, None], (32, 1, 3))
    Image.fromarray(np.concatenate([ramp, ramp // 2], axis=1)).save(_mk(folder / "0.jpg").with_suffix(".png"))
    pool = TaskPool({"dataset": "did_mdn_test", "resize": [32, 16]}, tmp_path)
    noisy, clean = pool.sample(3, 8, np.random.default_rng(0))
    assert noisy.shape == clean.shape == (3, 3, 8, 8) and noisy.dtype == np.float32
    assert np.allclose(clean, noisy / 2, atol=2 / 255)  # the same crop of both halves
    again = pool.sample(3, 8, np.random.default_rng(0))
    assert np.array_equal(again[0], noisy)
    half = TaskPool({"dataset": "did_mdn_test", "scale": 0.5}, tmp_path)
    assert half.sample(1, 8, np.random.default_rng(1))[0].shape == (1, 3, 8, 8)
    assert half.image(0)[0].shape == (16, 32, 3)


def test_training_draws_each_tasks_batches_from_its_pool(tmp_path, monkeypatch) -> None:
    """A rain pool of real pairs replaces the synthetic rain of the trainer's patches (same crop for input and
    reference, horizontal flips shared); blur without a pool degrades the clean patches; real test pairs of a
    named set pick their task's decoder."""
    from denoisebench.methods import build_method
    from denoisebench.methods.base import DenoiseContext
    from denoisebench.papers.p002_durn_mtl.training import TaskCycle

    monkeypatch.setenv("DENOISEBENCH_TRACKING", "0")
    folder = tmp_path / "DID-MDN" / "x" / "DID-MDN-training" / "Rain_Light" / "train2018new"
    rng = np.random.default_rng(0)
    clean = rng.integers(0, 256, (20, 20, 3), dtype=np.uint8)
    Image.fromarray(np.concatenate([255 - clean, clean], axis=1)).save(_mk(folder / "1.png"))
    cycle = TaskCycle(["rain", "blur"], {}, {"rain": ["rain"], "blur": ["motion_blur"]}, seed=0,
                      task_data={"rain": {"dataset": "did_mdn_train"}, "haze": {"dataset": "reside_its"}},
                      root=str(tmp_path))
    assert set(cycle.pools) == {"rain"}  # the haze pool belongs to entries that train haze
    patches = np.zeros((4, 3, 8, 8), np.float32)
    noisy, target = cycle.batch(patches, "rain", 1)
    assert target.shape == noisy.shape == (4, 3, 8, 8) and target.any()
    assert np.allclose(noisy, 1 - target, atol=1.5 / 255)  # the pair's own input, same crop and flip
    _, kept = cycle.batch(patches, "blur", 1)
    assert np.array_equal(kept, patches)
    method = build_method("durn_mtl", {"layout": "R>B"})
    method.train([rng.random((24, 24, 3), dtype=np.float32)], tmp_path / "m",
                 train_config={"iterations": 2, "batch_size": 2, "patch_size": 16, "checkpoint_every": 5,
                               "log_every": 1, "progress": False, "milestones": [],
                               "task_data": {"rain": {"dataset": "did_mdn_train"}}, "task_root": str(tmp_path)})
    assert method.last_result.steps == 2
    assert method.task_for(DenoiseContext(extra={"dataset": "did_mdn_test"})) == "rain"
    assert method.task_for(DenoiseContext(noise={"name": "motion_blur"})) == "blur"

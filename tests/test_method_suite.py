"""One suite over every registered method (as deepinv's tests/test_models.py runs one over all its models), so no
method or paper can drift from the interface: build it from its first params entry (demo profile), train a few
steps where it trains, denoise a small grey and a small colour image, and check shape, dtype, finiteness, range
and that a second run of the same seeded call gives the same output (to float32 rounding)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from denoisebench.config import method_entries, method_entry
from denoisebench.methods import METHODS, DenoiseContext, build_method
from denoisebench.prediction import denoise_adapted

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
STEPS = 2
#: Keys of a schedule that name data, not training settings.
DATA_KEYS = ("dataset", "split", "limit_images")


def _params() -> dict[str, Any]:
    params = yaml.safe_load((REPO / "params.yaml").read_text(encoding="utf-8"))
    params["profile"] = "demo"
    return params


PARAMS = _params()


def _first_entry_of_each_method() -> dict[str, str]:
    first: dict[str, str] = {}
    for name in method_entries(PARAMS):
        first.setdefault(method_entry(PARAMS, name).method, name)
    return first


FIRST_ENTRY = _first_entry_of_each_method()
#: Registered methods without a params entry, with the demo schedule they are trained on here and why.
WITHOUT_ENTRY: dict[str, dict[str, Any]] = {
    # paper 001's RIDNet baseline (Table 2): no pipeline entry yet; the meta-transfer pool's demo schedule
    "ridnet_real": {**PARAMS["train"]["meta_tta"]["demo"], "s1_epochs": 0},
}


def test_every_registered_method_has_a_params_entry_or_a_reason() -> None:
    """A method nobody can run from params.yaml must say why (the toy paper's method lives outside the tree)."""
    assert sorted(set(METHODS.names()) - set(FIRST_ENTRY)) == sorted(WITHOUT_ENTRY)


def _images(channels: int, size: int, seed: int) -> list[np.ndarray]:
    """Smooth random images in [0, 1] (a few low-frequency waves), float32 (size, size, channels)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size] / size
    out = []
    for _ in range(2):
        img = np.stack([0.5 + 0.2 * np.sin(2 * np.pi * (rng.uniform(0.5, 2) * xx + rng.uniform(0.5, 2) * yy
                                                          + rng.uniform()))
                        for _ in range(channels)], axis=2)
        out.append(np.clip(img + 0.05 * rng.standard_normal(img.shape), 0, 1).astype(np.float32))
    return out


def _config(entry: str, tmp_path: Path, trained: dict[str, Path]) -> dict[str, Any]:
    if entry in WITHOUT_ENTRY:
        return {}
    config = dict(method_entry(PARAMS, entry).config)
    if "crf_dir" in config:
        crf = SHARED / "data" / "CBDNet_CRF"
        if not crf.is_dir():
            pytest.skip(f"{crf} is absent (camera response curves for the CBDNet noise model)")
        config["crf_dir"] = str(crf)
    init = config.get("init_checkpoint")
    if init:  # a cascade: start from a model of the entry it names, trained here for a few steps
        upstream = Path(init).parent.name
        config["init_checkpoint"] = str(_train(upstream, tmp_path, trained))
    return config


def _train(entry: str, tmp_path: Path, trained: dict[str, Path]) -> Path:
    if entry in trained:
        return trained[entry]
    name = entry if entry in WITHOUT_ENTRY else method_entry(PARAMS, entry).method
    method = build_method(name, _config(entry, tmp_path, trained))
    schedule = WITHOUT_ENTRY.get(entry) or PARAMS["train"][entry]["demo"]
    settings = {k: v for k, v in schedule.items() if k not in DATA_KEYS}
    settings = {**type(method).short_schedule(settings, STEPS), "device": "cpu"}
    channels = int(method.config.get("channels", 3)) if hasattr(method, "config") else 3
    size = max(64, int(settings.get("patch_size") or settings.get("s1_patch") or 64) + 16)
    method.train(_images(channels, size, 0), tmp_path / entry, train_config=settings, tracking=None)
    trained[entry] = tmp_path / entry / "model.pt"
    assert trained[entry].is_file(), f"{entry}: training wrote no model.pt"
    return trained[entry]


@pytest.fixture(scope="module")
def trained_models(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Path]]:
    return tmp_path_factory.mktemp("suite"), {}


@pytest.mark.parametrize("method_name", sorted({**FIRST_ENTRY, **dict.fromkeys(WITHOUT_ENTRY)}))
def test_method_builds_trains_and_denoises_grey_and_colour(method_name: str,
                                                           trained_models: tuple[Path, dict[str, Path]]) -> None:
    tmp_path, trained = trained_models
    entry = FIRST_ENTRY.get(method_name, method_name)
    group = method_entries(PARAMS).get(entry, "learned")
    config = _config(entry, tmp_path, trained)
    if method_name == "pretrained":  # the authors' released model, from the mirror into a scratch folder
        from denoisebench.pretrained import fetch_weights

        if not (SHARED / "weights").is_dir():
            pytest.skip(f"{SHARED / 'weights'} is absent (the authors' released models)")
        config["weights_root"] = str(tmp_path / "weights")
        fetch_weights(config["model"], tmp_path / "weights", mirror=SHARED / "weights", allow_download=False)
    method = build_method(method_name, config)
    if method.needs_training:
        assert group in ("learned", "cascade"), f"{entry}: a method that needs training is in {group}"
        method.load(_train(entry, tmp_path, trained))
    for channels in (1, 3):
        if method.config.get("channels") == 1 and channels == 3:
            continue  # a grey model does not run on colour images (prediction.SKIP_RULES)
        noisy = _images(channels, 64, 1)[0]
        context = DenoiseContext(sigma=25.0, noise=method.probe_noise(), seed=0, device="cpu")
        first = denoise_adapted(method, noisy, context)
        again = denoise_adapted(method, noisy, context)
        where = f"{method_name} (entry {entry}) on a {channels}-channel image"
        assert first.shape == noisy.shape, f"{where}: shape {first.shape}, want {noisy.shape}"
        assert first.dtype == np.float32, f"{where}: dtype {first.dtype}"
        assert np.isfinite(first).all(), f"{where}: non-finite output"
        assert -1 <= float(first.min()) and float(first.max()) <= 2, f"{where}: range {first.min()}..{first.max()}"
        # same output to float32 rounding (BM3D's transforms differ by up to 2.4e-7 between two calls)
        assert np.abs(first - again).max() <= 1e-6, f"{where}: two seeded runs differ"
    shutil.rmtree(tmp_path / "weights", ignore_errors=True)

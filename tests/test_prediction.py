"""Predict-step rules: which cells an entry runs on, grey/colour adaptation, sigma estimation."""

from __future__ import annotations

import numpy as np
import pytest

from denoisebench.config import Cell, MethodEntry
from denoisebench.methods import build_method
from denoisebench.methods.base import DenoiseContext
from denoisebench.prediction import CellQuery, denoise_adapted, estimate_sigma_255, skip_reason

CELL = Cell("kodak24", "kodak24", None, "awgn:sigma=50", None)


@pytest.mark.parametrize("config, channels, sigma, expected", [
    ({"channels": 1}, 3, 50, "grey model on a colour test set"),
    ({"channels": 3}, 1, 50, None),
    ({"channels": 1, "train_noise": {"name": "awgn", "sigma": 25}}, 1, 50, "trained for AWGN sigma=25 only"),
    ({"channels": 1, "train_noise": {"name": "awgn", "sigma": 25}}, 1, 25, None),
    ({"channels": 3, "train_noise": {"name": "awgn", "sigma_range": [0, 55]}}, 3, 50, None),
    ({}, 3, None, None),
])
def test_skip_reason(config: dict, channels: int, sigma: float | None, expected: str | None) -> None:
    entry = MethodEntry("e", "dncnn", config)
    assert skip_reason(CellQuery(entry, "supervised", CELL, channels, {"sigma": sigma}, False)) == expected


ZS_CELL = Cell("kodak24_zs", "kodak24", None, "awgn:sigma=25", 2, crop=128, zeroshot=True)
REAL_CELL = Cell("polyu", "polyu", "test", "real", None)


@pytest.mark.parametrize("kind, cell, zeroshot_defined, skipped", [
    ("zero-shot", CELL, True, True),        # a zero-shot method stays on the zero-shot sets when any exists
    ("zero-shot", ZS_CELL, True, False),
    ("zero-shot", CELL, False, False),      # no set marked: it runs everywhere
    ("supervised", CELL, True, False),      # other methods run on every set, the zero-shot crops included
    ("supervised", ZS_CELL, True, False),
])
def test_zero_shot_methods_run_only_on_marked_sets(kind: str, cell: Cell, zeroshot_defined: bool,
                                                   skipped: bool) -> None:
    query = CellQuery(MethodEntry("e", "m", {}), kind, cell, 3, {"sigma": 25}, zeroshot_defined)
    assert (skip_reason(query) is not None) == skipped


@pytest.mark.parametrize("patterns, cell, skipped", [
    (None, CELL, False),
    (("awgn_*",), CELL, False),
    (("awgn_*",), REAL_CELL, True),
    (("hetero_gaussian*", "real"), REAL_CELL, False),
    (("hetero_gaussian*", "real"), CELL, True),
])
def test_evaluate_on_patterns_filter_noise_labels(patterns, cell: Cell, skipped: bool) -> None:
    query = CellQuery(MethodEntry("e", "m", {}, patterns), "supervised", cell, 3, {"sigma": None}, False)
    reason = skip_reason(query)
    assert (reason is not None) == skipped
    if skipped:
        assert "evaluate_on" in reason and cell.label in reason


class _ChannelProbe:
    """A stand-in colour method that records the channel count it was given."""

    config = {"channels": 3}

    def __init__(self) -> None:
        self.seen: list[int] = []

    def denoise(self, noisy: np.ndarray, context: DenoiseContext) -> np.ndarray:
        self.seen.append(noisy.shape[2])
        return noisy * np.array([1.0, 2.0, 3.0], dtype=np.float32)


def test_colour_model_on_grey_image_sees_rgb_and_returns_grey() -> None:
    probe = _ChannelProbe()
    out = denoise_adapted(probe, np.full((4, 5, 1), 0.5, np.float32), DenoiseContext())  # type: ignore[arg-type]
    assert probe.seen == [3] and out.shape == (4, 5, 1)
    np.testing.assert_allclose(out, 1.0)  # mean of 0.5 * (1, 2, 3)


def test_sigma_estimate_is_close_on_awgn() -> None:
    from skimage import data

    clean = data.camera()[:256, :256, None].astype(np.float32) / 255
    noisy = clean + np.random.default_rng(0).normal(0, 25 / 255, clean.shape).astype(np.float32)
    assert abs(estimate_sigma_255(noisy) - 25) < 3


def test_identity_method_through_adapter() -> None:
    image = np.random.default_rng(0).random((6, 6, 3), dtype=np.float32)
    out = denoise_adapted(build_method("noisy"), image, DenoiseContext())
    np.testing.assert_array_equal(out, image)


def test_metrics_summary_writes_null_for_infinite_psnr() -> None:
    import pandas as pd

    from denoisebench.result_files import summarize_cells

    frame = pd.DataFrame({"testset": ["t", "t"], "noise": ["real", "real"], "image": ["a", "b"],
                          "psnr": [float("inf"), 30.0], "ssim": [1.0, 0.9], "seconds": [0.1, 0.3]})
    cell = summarize_cells(frame)["t"]["real"]
    assert cell["psnr"] is None and cell["ssim"] == 0.95 and cell["n_images"] == 2 and cell["sec_per_image"] == 0.2


# Issue 13: a set's `entries` patterns keep every other entry off it (restoration sets run only their entries).
HAZE_CELL = Cell("cbsd68_haze", "cbsd68", None, "haze", 2, entries=("noisy", "durn_*"))


@pytest.mark.parametrize("name, skipped", [("noisy", False), ("durn_rbh", False), ("bm3d", True)])
def test_set_entries_restrict_who_runs_on_a_set(name: str, skipped: bool) -> None:
    query = CellQuery(MethodEntry(name, "noisy", {}), "identity", HAZE_CELL, 3, {}, False)
    assert (skip_reason(query) is not None) == skipped


@pytest.mark.parametrize("name, runs", [("bm3d", True), ("dncnn_pub_s25", False), ("noisy", False)])
def test_set_entries_exclude_with_a_bang(name: str, runs: bool) -> None:
    from denoisebench.prediction import set_runs_entry

    assert set_runs_entry(("*", "!*_pub_*", "!noisy"), name) is runs


def test_set_entries_are_parsed_and_checked() -> None:
    from denoisebench.config import evaluation_plan
    from denoisebench.errors import ConfigError

    sets = [{"name": "h", "dataset": "demo", "noise": ["haze"], "entries": ["noisy", "durn_*"]}]
    params = {"profile": "demo", "evaluation": {"demo": {"sets": sets}}}
    assert evaluation_plan(params)[0].entries == ("noisy", "durn_*")
    sets[0]["entries"] = "noisy"
    with pytest.raises(ConfigError, match="entries"):
        evaluation_plan(params)


def test_a_real_paired_set_carries_the_label_of_its_degradation() -> None:
    from denoisebench.config import evaluation_plan

    sets = [{"name": "gopro", "dataset": "demo", "noise": ["real:motion_blur", "real"]}]
    blur, real = evaluation_plan({"profile": "demo", "evaluation": {"demo": {"sets": sets}}})
    assert (blur.is_real, blur.label, blur.key) == (True, "motion_blur", "gopro/motion_blur")
    assert (real.is_real, real.label) == (True, "real")

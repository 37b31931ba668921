"""The rehearsal switch (issue 23): the paper profile at toy size, cut where schedules and cells are resolved."""

from __future__ import annotations

from pathlib import Path

import pytest

from denoisebench.config import REHEARSAL, evaluation_plan, load_params, method_entry, train_settings
from denoisebench.errors import ConfigError

REPO = Path(__file__).resolve().parents[1]


def _params(rehearsal: object) -> dict:
    params = load_params(REPO / "params.yaml")
    params.update(profile="paper", rehearsal=rehearsal)
    return params


def test_cells_keep_their_sets_and_noise_but_shrink() -> None:
    full, toy = evaluation_plan(_params(False)), evaluation_plan(_params(True))
    assert [c.key for c in toy] == [c.key for c in full]
    assert all(c.limit == REHEARSAL["images"] and c.repeats == 1 and c.crop <= REHEARSAL["crop"] for c in toy)
    assert any(c.repeats > 1 for c in full) and all(c.limit is None for c in full)


def test_schedules_keep_their_data_batch_and_patch_but_cut_steps() -> None:
    full, toy = train_settings(_params(False), "dncnn_color_blind"), train_settings(_params(True), "dncnn_color_blind")
    assert full["iterations"] == 150000 and toy["iterations"] == REHEARSAL["steps"]
    assert (toy["dataset"], toy["batch_size"], toy["patch_size"], toy["optimizer"]) == (
        full["dataset"], full["batch_size"], full["patch_size"], full["optimizer"])
    assert toy["limit_images"] == REHEARSAL["train_images"]
    meta = train_settings(_params(True), "meta_tta")  # paper 001's own schedule: its pool stays the paper's
    assert meta["pool"] == ["sidd_small", "polyu/train"] and meta["dataset"] == "div2k"
    assert meta["s1_epochs"] == 1 and meta["s2_iterations"] <= REHEARSAL["steps"]


def test_zero_shot_iterations_are_cut() -> None:
    assert method_entry(_params(False), "blind2grad").config["iterations"] == 3000
    assert method_entry(_params(True), "blind2grad").config["iterations"] == REHEARSAL["steps"]


def test_switch_must_be_a_boolean() -> None:
    with pytest.raises(ConfigError, match="rehearsal='yes' must be true or false"):
        evaluation_plan(_params("yes"))

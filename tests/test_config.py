"""params.yaml handling: profiles, the evaluation plan, method entries and their errors."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from denoisebench.config import (active_profile, evaluation_plan, load_params, method_entries, method_entry,
                                 train_settings)
from denoisebench.errors import ConfigError
from denoisebench.stage_support import datasets_needed


@pytest.fixture()
def params(repo_root: Path) -> dict:
    return load_params(repo_root / "params.yaml")


def test_committed_default_profile_is_quick(params: dict) -> None:
    assert active_profile(params) == "quick"


@pytest.mark.parametrize("profile", ["demo", "quick", "paper"])
def test_every_profile_has_a_plan_and_training_settings(params: dict, profile: str) -> None:
    params = {**params, "profile": profile}
    cells = evaluation_plan(params)
    assert cells and len({c.key for c in cells}) == len(cells)
    for entry, group in method_entries(params).items():
        method_entry(params, entry)
        if group == "learned":
            assert train_settings(params, entry)["iterations"] > 0


def test_demo_profile_needs_no_download(params: dict) -> None:
    assert datasets_needed({**params, "profile": "demo"}) == ["demo"]


def test_quick_profile_labels(params: dict) -> None:
    keys = [c.key for c in evaluation_plan(params)]
    assert "kodak24/awgn_sigma25" in keys and "polyu/real" in keys


def test_bad_profile_is_named(params: dict) -> None:
    with pytest.raises(ConfigError, match="profile='huge'"):
        active_profile({**params, "profile": "huge"})


def test_unknown_set_key_and_entry(params: dict) -> None:
    broken = copy.deepcopy(params)
    broken["evaluation"]["quick"]["sets"][0]["nosie"] = ["awgn:sigma=25"]
    with pytest.raises(ConfigError, match="unknown keys"):
        evaluation_plan(broken)
    with pytest.raises(ConfigError, match="unknown method entry 'dncnn_typo'"):
        method_entry(params, "dncnn_typo")


def test_bad_limit_images(params: dict) -> None:
    broken = copy.deepcopy(params)
    broken["evaluation"]["quick"]["limit_images"] = 0
    with pytest.raises(ConfigError, match="limit_images"):
        evaluation_plan(broken)


def test_missing_params_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="params file not found"):
        load_params(tmp_path / "params.yaml")

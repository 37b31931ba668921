"""params.yaml handling: profiles, the evaluation plan, method entries and their errors."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from denoisebench.config import (
    TRAINED_GROUPS,
    active_profile,
    evaluation_plan,
    load_params,
    method_entries,
    method_entry,
    train_settings,
)
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
        if group in TRAINED_GROUPS:
            settings = train_settings(params, entry)  # paper 001's schedules count stage-2 meta-batches
            assert settings.get("iterations", settings.get("s2_iterations", 0)) > 0


def test_demo_profile_needs_no_download_but_the_crf_tables(params: dict) -> None:
    assert datasets_needed({**params, "profile": "demo"}) == ["cbdnet_crf", "demo"]


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


def _one_set(params: dict, **extra) -> dict:
    params = copy.deepcopy(params)
    params["profile"] = "demo"
    params["evaluation"]["demo"]["sets"] = [{"name": "s", "dataset": "demo", "noise": ["awgn:sigma=25"], **extra}]
    return params


def test_set_options_reach_the_cells(params: dict) -> None:
    cell, = evaluation_plan(_one_set(params, limit_images=2, crop=64, zeroshot=True, repeats=3))
    assert (cell.limit, cell.crop, cell.zeroshot, cell.repeats) == (2, 64, True, 3)
    default, = evaluation_plan(_one_set(params))
    assert (default.crop, default.zeroshot, default.repeats) == (None, False, 1)


@pytest.mark.parametrize("extra, message", [
    ({"crop": 0}, r"sets\[0\]\.crop=0 must be a positive integer"),
    ({"repeats": "ten"}, r"sets\[0\]\.repeats='ten'"),
    ({"zeroshot": "yes"}, r"zeroshot='yes' must be true or false"),
    ({"limit_images": -1}, r"limit_images=-1"),
    ({"noise": ["real"], "repeats": 2}, "repeats=2 needs synthetic noise"),
    ({"colour": True}, r"unknown keys \['colour'\]"),
])
def test_bad_set_options_name_the_key(params: dict, extra: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        evaluation_plan(_one_set(params, **extra))


def test_duplicate_set_names_are_rejected(params: dict) -> None:
    params = _one_set(params)
    params["evaluation"]["demo"]["sets"] *= 2
    with pytest.raises(ConfigError, match="set name 's' is used twice"):
        evaluation_plan(params)


def test_entry_profiles_override_the_config_of_the_active_profile(params: dict) -> None:
    params = copy.deepcopy(params)
    params["methods"]["classical"]["zs"] = {"method": "zsn2n", "iterations": 2000, "evaluate_on": ["awgn_*"],
                                            "profiles": {"demo": {"iterations": 5}, "paper": {}}}
    assert method_entry({**params, "profile": "demo"}, "zs").config == {"iterations": 5}
    paper = method_entry({**params, "profile": "paper"}, "zs")
    assert paper.config == {"iterations": 2000} and paper.evaluate_on == ("awgn_*",)
    params["methods"]["classical"]["zs"]["profiles"] = {"fast": {}}
    with pytest.raises(ConfigError, match="zs.profiles must map profile names"):
        method_entry(params, "zs")
    params["methods"]["classical"]["zs"]["profiles"] = {}
    params["methods"]["classical"]["zs"]["evaluate_on"] = "awgn_*"
    with pytest.raises(ConfigError, match="evaluate_on must be a list"):
        method_entry(params, "zs")


def test_camera_pipeline_training_noise_needs_the_crf_tables(params: dict) -> None:
    params = _one_set(params)  # demo profile, one AWGN cell
    params["methods"] = {"classical": {"noisy": {"method": "noisy"}}}
    assert "cbdnet_crf" not in datasets_needed(params)
    params["methods"]["learned"] = {"isp": {"method": "mtl_dae", "train_noise": {"name": "cbdnet"}}}
    params["train"]["isp"] = {"demo": {"dataset": "demo", "split": "train", "iterations": 1}}
    params["run_entries"] = {"demo": ["noisy"]}
    assert "cbdnet_crf" not in datasets_needed(params)  # the profile does not run the entry: nothing to fetch
    params["run_entries"] = {"demo": ["noisy", "isp"]}
    assert "cbdnet_crf" in datasets_needed(params)


def test_stage_options_come_from_the_active_profile(tmp_path: Path, params: dict) -> None:
    import argparse

    import yaml

    from denoisebench.stage_support import apply_profile_defaults

    params = {**copy.deepcopy(params), "profile": "demo",
              "figx": {"demo": {"size": 48, "b2g": {"cycles": 1}}, "quick": {"size": 128}}}
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(params))
    parser = argparse.ArgumentParser()
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--b2g", default="{}")
    apply_profile_defaults(parser, "figx", ["--params", str(path)])
    args = parser.parse_args(["--params", str(path)])
    assert args.size == 48 and args.b2g == '{"cycles": 1}'
    assert parser.parse_args(["--params", str(path), "--size", "7"]).size == 7  # flags still win
    params["figx"]["demo"]["colour"] = True
    path.write_text(yaml.safe_dump(params))
    with pytest.raises(ConfigError, match=r"figx.demo has unknown keys \['colour'\]"):
        apply_profile_defaults(parser, "figx", ["--params", str(path)])


def test_run_entries_select_what_a_profile_runs(params: dict) -> None:
    from denoisebench.config import not_run_reason

    params = {**copy.deepcopy(params), "profile": "demo", "run_entries": {"demo": ["liu_*", "noisy"], "quick": None}}
    assert not_run_reason(params, "noisy") is None and not_run_reason(params, "liu_joint_s25") is None
    assert "run_entries.demo" in not_run_reason(params, "bm3d")
    assert not_run_reason({**params, "profile": "quick"}, "bm3d") is None  # null: every entry
    params["run_entries"]["demo"] = "noisy"
    with pytest.raises(ConfigError, match=r"run_entries\.demo must be a list"):
        not_run_reason(params, "noisy")


def test_run_entries_name_matching_no_entry_is_an_error(params: dict) -> None:
    """A typo in run_entries (issue 24: `[noisy, bm3d, nosuch_method]` ran with no warning) names the pattern and
    the valid entries, for every entry asked about (each stage asks)."""
    from denoisebench.config import not_run_reason

    params = {**copy.deepcopy(params), "profile": "demo", "run_entries": {"demo": ["noisy", "bm3d", "nosuch_*"]}}
    for entry in ("noisy", "bm3d", "dncnn_color_blind"):
        with pytest.raises(ConfigError, match=r"run_entries\.demo: 'nosuch_\*' matches no method entry; valid "
                                              r"entries: noisy, bm3d"):
            not_run_reason(params, entry)

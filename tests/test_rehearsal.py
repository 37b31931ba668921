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


# -- paper stages: their sections' `rehearsal` options ------------------------------------------------------------

#: Option keys a rehearsal may change: sizes, counts and schedule lengths (and the logging cadence that follows).
SIZE_AND_SCHEDULE_KEYS = {"images", "size", "crop", "limit", "limit_images", "val_images", "val_pool", "snapshots",
                          "cycles", "iterations", "n_avg", "n_avg_cycle", "n_predictions", "s1_epochs", "s1_steps",
                          "s2_iterations", "select_every", "checkpoint_every", "log_every"}


def _leaf_keys(options: dict) -> set[str]:
    return {k for key, value in options.items() for k in (_leaf_keys(value) if isinstance(value, dict) else {key})}


def test_every_paper_stage_with_profiles_declares_rehearsal_options_of_size_and_schedule_only() -> None:
    from denoisebench.config import PROFILES

    params = _params(False)
    stages = {k for group in params["paper_stages"].values() for k in group}
    with_profiles = {k for k in stages if isinstance(params.get(k), dict) and set(params[k]) & set(PROFILES)}
    assert with_profiles, "no paper stage has per-profile options"
    for key in with_profiles:
        assert "rehearsal" in params[key], f"{key}: no rehearsal options, so a rehearsal runs it at paper size"
        assert _leaf_keys(params[key]["rehearsal"]) <= SIZE_AND_SCHEDULE_KEYS, key


def test_stage_options_merge_the_rehearsal_over_the_paper_profile_key_by_key(tmp_path, monkeypatch) -> None:
    import yaml

    from denoisebench.pipeline.paper import rehearsal_params_file, stage_options

    monkeypatch.setenv("DENOISEBENCH_ROOT", str(tmp_path))
    (tmp_path / "dvc.yaml").write_text("stages: {}\n")
    full, toy = stage_options(_params(False), "ablation_001"), stage_options(_params(True), "ablation_001")
    assert full["schedule"]["s2_iterations"] == 19500 and toy["schedule"]["s2_iterations"] == 2
    assert toy["schedule"]["pool"] == full["schedule"]["pool"] and toy["train"]["dataset"] == "div2k"
    assert toy["schedule"]["s1_batch"] == full["schedule"]["s1_batch"]  # batch and patch stay the paper's
    assert stage_options(_params(True), "report_000") == {}  # a section without profiles passes whole
    derived = yaml.safe_load(rehearsal_params_file(_params(True), "fig7_003").read_text())
    assert derived["fig7_003"]["paper"]["b2g"] == {"cycles": 1, "iterations": 2, "n_avg": 1, "n_avg_cycle": 1}
    assert {k: v for k, v in derived.items() if k != "fig7_003"} == {
        k: v for k, v in _params(True).items() if k != "fig7_003"}


def test_paper_stage_records_only_the_active_profiles_options() -> None:
    from denoisebench.pipeline.paper import stage_options

    quick = _params(False) | {"profile": "quick"}
    changed = {**quick, "ablation_003": {**quick["ablation_003"], "paper": {"images": 1}}}
    assert stage_options(quick, "ablation_003") == stage_options(changed, "ablation_003")


def test_every_zero_shot_entry_is_cut_to_the_rehearsal_steps() -> None:
    """The rehearsal's second catch: zsn2n and self2self named no `iterations` in the paper profile, so the cut
    missed them and the rehearsal ran ZS-N2N's 2000 steps per image (92 s each on CPU) and would have run
    Self2Self's 150,000."""
    from denoisebench.config import method_entries
    from denoisebench.methods.base import METHODS
    from denoisebench.papers import load_paper_methods

    load_paper_methods()
    params = _params(True)
    zero_shot = [e for e in method_entries(params)
                 if getattr(METHODS.get(method_entry(params, e).method), "kind", "") == "zero-shot"]
    assert {"zsn2n", "self2self", "blind2grad"} <= set(zero_shot)
    for entry in zero_shot:
        spec = method_entry(params, entry)
        defaults = getattr(METHODS.get(spec.method), "DEFAULTS", {})
        assert {**defaults, **spec.config}["iterations"] <= REHEARSAL["steps"], entry

"""What an entry's predict record depends on: the cells it runs on, not every cell of the profile (issue 20)."""

from __future__ import annotations

import copy
from pathlib import Path

from denoisebench.config import evaluation_plan, load_params
from denoisebench.pipeline.predict import PredictPaths, PredictStep
from denoisebench.synthesis import synthesize_cell

REPO = Path(__file__).resolve().parents[1]


def _demo_params() -> dict:
    params = load_params(REPO / "params.yaml")
    params["profile"] = "demo"
    params["evaluation"]["demo"]["sets"] = [s for s in params["evaluation"]["demo"]["sets"]
                                            if s["name"] in ("demo", "demo_restore")]
    return params


def _step(params: dict, tmp_path: Path) -> PredictStep:
    noisy = tmp_path / "noisy"
    for cell in evaluation_plan(params):
        if not (noisy / cell.testset / cell.label / "manifest.json").is_file():
            synthesize_cell(cell, tmp_path / "raw", noisy, 0, {})
    return PredictStep(params, PredictPaths(noisy, tmp_path / "models", tmp_path / "predictions"))


def test_a_set_changed_for_other_entries_leaves_an_entrys_inputs_alone(tmp_path: Path) -> None:
    params = _demo_params()
    before = _step(params, tmp_path / "a")
    changed = copy.deepcopy(params)
    restore = next(s for s in changed["evaluation"]["demo"]["sets"] if s["name"] == "demo_restore")
    restore["crop"] = 48  # the restoration cells run only noisy and durn_*
    after = _step(changed, tmp_path / "b")
    assert after.inputs("bm3d") == before.inputs("bm3d")  # bm3d skips them, for the same reason
    assert after.inputs("noisy") != before.inputs("noisy")
    assert "demo_restore/motion_blur" in after.inputs("noisy")["cells"]["run"]
    assert "demo_restore/motion_blur" in after.inputs("bm3d")["cells"]["skipped"]


def test_a_changed_cell_changes_the_inputs_of_the_entries_that_run_on_it(tmp_path: Path) -> None:
    params = _demo_params()
    before = _step(params, tmp_path)
    changed = copy.deepcopy(params)
    changed["evaluation"]["demo"]["sets"][0]["limit_images"] = 1
    after = _step(changed, tmp_path / "other")
    assert after.inputs("bm3d") != before.inputs("bm3d") and after.inputs("noisy") != before.inputs("noisy")


def test_cells_not_synthesized_yet_leave_the_entry_stale_without_reading_them(tmp_path: Path) -> None:
    params = _demo_params()
    step = PredictStep(params, PredictPaths(tmp_path / "none", tmp_path / "models", tmp_path / "predictions"))
    assert step.inputs("bm3d")["cells"] == {"not_synthesized": sorted(c.key for c in evaluation_plan(params))}

"""The GPU window script's CPU path (issue 23): a trained entry's state lands where the train stage resumes it,
and its cells are synthesized, predicted and scored as files."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))


@pytest.mark.slow  # ~20 s of CPU (a 2-step DnCNN-S at batch 128, one test image)
@pytest.mark.usefixtures("shared_data")
def test_tiny_window_trains_scores_and_resumes_in_the_train_stage(tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    import gpu_window

    from denoisebench.config import method_entry, train_settings
    from denoisebench.datasets import list_samples
    from denoisebench.stage_support import build_entry_method
    from denoisebench.training.trainer import resume_store

    out = tmp_path / "out"
    assert gpu_window.main(["--out", str(out), "--tiny", "--no-check", "--jobs", "dncnn_gray_s25",
                            "--sets", "set12"]) == 0
    info = json.loads((out / "provenance.json").read_text())
    (job,) = info["jobs"]
    assert job["status"] == "ok" and job["steps"] == 2 and job["cells"] == ["set12/awgn_sigma25"]
    assert "set12/awgn_sigma15" in job["skipped"]  # the predict stage's rule: trained for sigma 25 only
    assert info["commit"] and info["tiny"] is True
    scores = json.loads((out / "scores" / "dncnn_gray_s25.json").read_text())
    assert scores["set12/awgn_sigma25"]["n_images"] == 1
    states = list((out / "checkpoints" / "dncnn_gray_s25").glob("*/state.pt"))
    assert len(states) == 1
    # what the train stage does with the same params: it finds the state at its last step and trains nothing
    params = gpu_window.window_params(tiny=True)
    settings = train_settings(params, "dncnn_gray_s25")
    dataset, split, limit = (settings.pop(k, None) for k in ("dataset", "split", "limit_images"))
    images = [s.clean() for s in list_samples(dataset, REPO.parent / "shared" / "data", split=split, limit=limit)]
    method = build_entry_method(params, method_entry(params, "dncnn_gray_s25"))
    steps_run: list[int] = []
    with resume_store(out / "checkpoints"):
        method.train(images, tmp_path / "stage_models" / "dncnn_gray_s25", train_config=settings,
                     tracking={"stage": "train"}, callbacks=[lambda step, logs: steps_run.append(step)])
    assert steps_run == [] and method.last_result.steps == 2
    # its scores never become table rows: `denoisebench window import` refuses a rehearsal (tests/test_window_import.py)
    from denoisebench.cli import main as cli

    windows = tmp_path / "windows"
    capsys.readouterr()
    assert cli(["window", "import", str(out), "--windows", str(windows), "--allow-cpu"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "a --tiny (rehearsal) window" in err and not windows.exists()

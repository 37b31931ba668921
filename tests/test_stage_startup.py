"""Stage start-up: a stage imports only what it uses (the demo's ~100 stages each paid torch + MLflow imports).

Each stage runs in a fresh interpreter on a tiny demo tree (one 128x128 image, sigma 25), and reports which
heavy modules it imported.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from denoisebench.config import Cell
from denoisebench.synthesis import synthesize_cell

REPO = Path(__file__).resolve().parents[1]
HEAVY = ("torch", "mlflow")
#: Runs a stage as ``python stages/<name>.py ARGS`` would, then prints the heavy modules it or any process it forked
#: (each entry works in a forked child, which inherits the import spy) imported.
PROBE = ("import json, os, runpy, sys\nLOG = os.environ['HEAVY_LOG']\nclass Spy:\n"
         "    def find_spec(self, name, path, target=None):\n        if name in %r:\n"
         "            open(LOG, 'a').write(name + '\\n')\n        return None\n"
         "sys.meta_path.insert(0, Spy())\nscript, *args = sys.argv[1:]; sys.argv = [script, *args]\n"
         "code = 0\ntry:\n    runpy.run_path(script, run_name='__main__')\nexcept SystemExit as exc:\n"
         "    code = exc.code or 0\nseen = set(open(LOG).read().split()) if os.path.exists(LOG) else set()\n"
         "print(json.dumps({'heavy': sorted(seen), 'code': code}))" % (HEAVY,))


@pytest.fixture(scope="module")
def demo_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A working folder with params.yaml (demo profile, one cell) and that cell synthesized under data/noisy."""
    work = tmp_path_factory.mktemp("startup")
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["profile"] = "demo"
    params["evaluation"]["demo"] = {"limit_images": 1, "sets": [
        {"name": "demo", "dataset": "demo", "split": "test", "noise": ["awgn:sigma=25"]}]}
    params["methods"] = {"classical": {"noisy": {"method": "noisy"}},
                         "learned": {"liu_separate_s35": params["methods"]["learned"]["liu_separate_s35"]}}
    params["run_entries"]["demo"] = None  # both entries run
    (work / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    synthesize_cell(Cell("demo", "demo", "test", "awgn:sigma=25", 1), work / "data" / "raw", work / "data" / "noisy",
                    seed=0, overrides={})
    return work


def run_stage(work: Path, name: str, *args: str, tracking: bool = False) -> list[str]:
    """Run ``stages/<name>.py`` in ``work``; the heavy modules it imported (fails on a non-zero exit)."""
    log = work / "heavy.log"
    log.unlink(missing_ok=True)
    env = {**os.environ, "DENOISEBENCH_TRACKING": "1" if tracking else "0", "DENOISEBENCH_ROOT": str(work),
           "PYTHONPATH": os.pathsep.join([str(REPO / "src"), os.environ.get("PYTHONPATH", "")]),
           "HEAVY_LOG": str(log)}
    done = subprocess.run([sys.executable, "-c", PROBE, str(REPO / "stages" / f"{name}.py"), *args], cwd=work,
                          env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["code"] == 0, done.stderr[-3000:]
    return report["heavy"]


def test_entry_with_no_cell_in_the_profile_stops_before_heavy_imports(demo_tree: Path) -> None:
    """liu_separate_s35 is trained for sigma 35 only: nothing of this profile applies, so predict and score write
    their (empty) outputs without loading torch, the checkpoint (there is none) or MLflow, even with tracking on."""
    assert run_stage(demo_tree, "predict", "--entry", "liu_separate_s35", tracking=True) == []
    skipped = json.loads((demo_tree / "results" / "predictions" / "liu_separate_s35" / "skipped.json").read_text())
    assert skipped == {"demo/awgn_sigma25": "trained for AWGN sigma=35 only"}
    assert run_stage(demo_tree, "score", "--entry", "liu_separate_s35", tracking=True) == []
    assert json.loads((demo_tree / "results" / "metrics" / "liu_separate_s35.json").read_text()) == {}


def test_classical_predict_score_and_tables_do_not_import_torch(demo_tree: Path) -> None:
    assert "torch" not in run_stage(demo_tree, "predict", "--entry", "noisy")
    assert (demo_tree / "results" / "predictions" / "noisy" / "demo" / "awgn_sigma25").is_dir()
    assert "torch" not in run_stage(demo_tree, "score", "--entry", "noisy")
    metrics = json.loads((demo_tree / "results" / "metrics" / "noisy.json").read_text())
    assert metrics["demo"]["awgn_sigma25"]["n_images"] == 1
    heavy = run_stage(demo_tree, "tables", "--results", "results", "--references", str(REPO / "references"),
                      "--out", "reports")
    assert heavy == [] and (demo_tree / "reports" / "results.md").is_file()


def test_predict_never_imports_mlflow_even_with_tracking_on(demo_tree: Path) -> None:
    """Predict writes predictions and timings only; the score stage logs them (one MLflow run per entry)."""
    assert "mlflow" not in run_stage(demo_tree, "predict", "--entry", "noisy", tracking=True)


def test_one_score_stage_rescores_only_changed_entries_and_drops_removed_ones(demo_tree: Path) -> None:
    for entry in ("noisy", "liu_separate_s35"):
        run_stage(demo_tree, "predict", "--entry", entry)
    record = demo_tree / "results" / "scores" / "noisy" / "record.json"
    stale_metrics = demo_tree / "results" / "metrics" / "gone.json"
    stale_metrics.parent.mkdir(parents=True, exist_ok=True)
    stale_metrics.write_text("{}")
    run_stage(demo_tree, "score")
    assert not stale_metrics.exists()  # an entry no longer in params.yaml loses its results
    first = record.stat().st_mtime_ns
    prediction = next((demo_tree / "results" / "predictions" / "noisy").rglob("*.npy"))
    prediction.write_bytes(prediction.read_bytes())  # the same bytes again (a checkout): nothing to rescore
    run_stage(demo_tree, "score")
    assert record.stat().st_mtime_ns == first
    skipped_record = demo_tree / "results" / "scores" / "liu_separate_s35" / "record.json"
    untouched = skipped_record.stat().st_mtime_ns
    params = yaml.safe_load((demo_tree / "params.yaml").read_text())
    params["methods"]["classical"]["noisy"]["evaluate_on"] = ["awgn_*"]  # the noisy entry's config changed
    (demo_tree / "score_changed.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    run_stage(demo_tree, "score", "--params", "score_changed.yaml")
    assert record.stat().st_mtime_ns != first and skipped_record.stat().st_mtime_ns == untouched


def test_one_predict_stage_repredicts_only_changed_entries_and_drops_removed_ones(demo_tree: Path) -> None:
    out = demo_tree / "inc_predictions"
    (out / "gone").mkdir(parents=True)  # an entry no longer in params.yaml
    (out / ".noisy.abc.old").mkdir()  # left by a publish interrupted between its renames
    assert "torch" not in run_stage(demo_tree, "predict", "--out", str(out))  # no cell applies to the learned entry
    assert sorted(p.name for p in out.iterdir()) == ["liu_separate_s35", "noisy"]
    timings = out / "noisy" / "demo" / "awgn_sigma25" / "timings.csv"
    skipped = out / "liu_separate_s35" / "skipped.json"
    first = timings.stat().st_mtime_ns, skipped.stat().st_mtime_ns
    run_stage(demo_tree, "predict", "--out", str(out))
    assert (timings.stat().st_mtime_ns, skipped.stat().st_mtime_ns) == first  # nothing changed: nothing redone
    params = yaml.safe_load((demo_tree / "params.yaml").read_text())
    params["methods"]["classical"]["noisy"]["evaluate_on"] = ["awgn_*"]  # the noisy entry's config changed
    (demo_tree / "changed.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    run_stage(demo_tree, "predict", "--out", str(out), "--params", "changed.yaml")
    assert timings.stat().st_mtime_ns != first[0] and skipped.stat().st_mtime_ns == first[1]
    assert json.loads((out / "noisy" / "record.json").read_text())["entry"] == "noisy"


def test_entry_the_profile_does_not_run_trains_and_predicts_nothing_without_torch(demo_tree: Path) -> None:
    params = yaml.safe_load((demo_tree / "params.yaml").read_text())
    params["run_entries"] = {"demo": ["noisy"], "quick": None, "paper": None}
    (demo_tree / "not_run.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    common = ("--entry", "liu_separate_s35", "--params", "not_run.yaml")
    assert run_stage(demo_tree, "train", *common, "--out", "nr_models", "--curves", "nr_curves", tracking=True) == []
    reason = json.loads((demo_tree / "nr_models" / "liu_separate_s35" / "not_trained.json").read_text())["reason"]
    assert reason.startswith("not run in profile demo")
    assert (demo_tree / "nr_curves" / "liu_separate_s35.csv").read_text() == "step,loss\n"
    assert run_stage(demo_tree, "predict", *common, "--out", "nr_predictions", tracking=True) == []
    skipped = json.loads((demo_tree / "nr_predictions" / "liu_separate_s35" / "skipped.json").read_text())
    assert skipped == {"demo/awgn_sigma25": reason}


def _params_variant(work: Path, name: str, run: list[str] | None, **schedule: object) -> str:
    """Write ``<name>.yaml``: the tree's params with ``run_entries.demo = run`` and liu_separate_s35's demo schedule
    updated by ``schedule``; return its file name."""
    params = yaml.safe_load((work / "params.yaml").read_text())
    params["run_entries"] = {"demo": run, "quick": None, "paper": None}
    params["train"]["liu_separate_s35"]["demo"].update(schedule)
    (work / f"{name}.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    return f"{name}.yaml"


def test_one_train_stage_retrains_only_changed_entries(demo_tree: Path) -> None:
    """Without --entry the train stage goes through every trained entry: a not-run entry is recorded without torch,
    an unchanged one is skipped, a changed schedule retrains it (in its own process), removed entries are deleted."""
    outs = ("--out", "all_models", "--curves", "all_curves")
    (demo_tree / "all_models" / "gone").mkdir(parents=True)
    not_trained = demo_tree / "all_models" / "liu_separate_s35" / "not_trained.json"
    none_run = _params_variant(demo_tree, "none_run", [])
    assert run_stage(demo_tree, "train", "--params", none_run, *outs, tracking=True) == []
    assert not (demo_tree / "all_models" / "gone").exists() and not_trained.is_file()
    first = not_trained.stat().st_mtime_ns
    assert run_stage(demo_tree, "train", "--params", none_run, *outs) == []
    assert not_trained.stat().st_mtime_ns == first  # unchanged: nothing done
    tiny = _params_variant(demo_tree, "tiny", None, iterations=2, batch_size=2, checkpoint_every=2, log_every=1)
    run_stage(demo_tree, "train", "--params", tiny, *outs)
    model = demo_tree / "all_models" / "liu_separate_s35" / "model.pt"
    assert json.loads((model.parent / "summary.json").read_text())["steps"] == 2
    trained = model.stat().st_mtime_ns
    assert run_stage(demo_tree, "train", "--params", tiny, *outs) == []  # current: no process, no torch
    assert model.stat().st_mtime_ns == trained

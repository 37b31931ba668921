"""End to end: the `demo` profile of the DVC pipeline in a throwaway copy of the repository.

It runs `dvc exp run -S profile=demo` (offline: the demo images are bundled with scikit-image), then checks the
tables, metrics, per-paper outputs, MLflow runs and that a rerun is a no-op.

To keep CI within its budget the copy keeps only the entries the demo profile runs (params ``run_entries.demo``:
one per method kind and group, and those the paper stages read) and one it does not run: every stage still runs;
the dropped entries would go through the same train/predict/score code with other configs.

The pipeline runs once per module: its time budget is :data:`SECONDS_PER_STAGE` per stage of the copy plus
:data:`SECONDS_BASE` (env ``DENOISEBENCH_E2E_SECONDS_PER_STAGE`` overrides the allowance on a slow machine); a
failure or timeout names the stage that was running (parsed from DVC's ``Running stage '<name>':`` lines) and is
remembered, so the other tests of the module skip instead of running the pipeline again.
"""

from __future__ import annotations

import json
import os
import shutil
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

#: An entry the demo profile does not run (params ``run_entries.demo``), kept in the copy: its stages must finish at
#: once with empty outputs.
NOT_RUN_ENTRY = ("learned", "dae_mse_hg")


def _keep_representative_entries(params_path: Path) -> None:
    """Rewrite the copy's params.yaml with only the entries the demo profile runs (``run_entries.demo``: one per
    method kind and group, and those the paper stages read) plus :data:`NOT_RUN_ENTRY`."""
    import yaml

    from denoisebench.config import not_run_reason

    params = yaml.safe_load(params_path.read_text())
    demo = {**params, "profile": "demo"}
    for group, entries in params["methods"].items():
        params["methods"][group] = {name: spec for name, spec in entries.items()
                                    if not_run_reason(demo, name) is None or (group, name) == NOT_RUN_ENTRY}
    assert NOT_RUN_ENTRY[1] in params["methods"][NOT_RUN_ENTRY[0]], f"{NOT_RUN_ENTRY} was renamed"
    params_path.write_text(yaml.safe_dump(params, sort_keys=False))


def _tracked_files(repo: Path) -> list[str]:
    out = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=repo,
                         capture_output=True, text=True, check=True)
    return [line for line in out.stdout.splitlines() if line]


#: Wall-clock allowance per pipeline stage (a loaded 2-core machine: a stage's imports alone take seconds) and
#: for the fixed part (git, DVC's start-up and lock file); env DENOISEBENCH_E2E_SECONDS_PER_STAGE overrides the first.
SECONDS_PER_STAGE = 60.0
SECONDS_BASE = 300.0
#: Short commands (git, dvc status, dvc stage list).
SHORT_TIMEOUT = 300.0
STAGE_LINE = re.compile(r"^Running stage '([^']+)':")

#: The first failure of the demo pipeline in this session; later requests of the fixture skip on it.
_PIPELINE_FAILURE: list[str] = []


def _run(cmd: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=SHORT_TIMEOUT)
    assert result.returncode == 0, f"{' '.join(cmd)} failed:\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
    return result


def pipeline_budget(n_stages: int) -> float:
    """Seconds the pipeline of ``n_stages`` stages may take: a per-stage allowance times the stages, plus a base."""
    per_stage = float(os.environ.get("DENOISEBENCH_E2E_SECONDS_PER_STAGE", SECONDS_PER_STAGE))
    return SECONDS_BASE + n_stages * per_stage


def running_stage(lines: list[str]) -> str | None:
    """The stage DVC started last (its ``Running stage '<name>':`` line), None before the first."""
    for line in reversed(lines):
        match = STAGE_LINE.match(line)
        if match:
            return match.group(1)
    return None


def run_pipeline(cmd: list[str], cwd: Path, env: dict[str, str], budget: float) -> None:
    """Run ``cmd`` (a DVC pipeline run) with a wall-clock ``budget``; fail naming the running stage.

    Output is read as it comes, so the stage running at a timeout is known; on a timeout the whole process group
    (DVC and the stage it runs) is killed, so no stage outlives the test.
    """
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(line.rstrip("\n") for line in proc.stdout), daemon=True)
    reader.start()
    start = time.monotonic()
    try:
        proc.wait(timeout=budget)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        reader.join(timeout=10)
        stage = running_stage(lines)
        raise AssertionError(
            f"{' '.join(cmd)} ran past its budget of {budget:.0f} s (stages x allowance + base; set "
            f"DENOISEBENCH_E2E_SECONDS_PER_STAGE on a slow machine); stage running: {stage or 'none yet'}\n"
            + "\n".join(lines[-60:])) from None
    reader.join(timeout=10)
    if proc.returncode != 0:
        stage = running_stage(lines)
        raise AssertionError(f"{' '.join(cmd)} failed (exit {proc.returncode}) after {time.monotonic() - start:.0f} s "
                             f"in stage {stage or 'none (before the first stage)'}:\n" + "\n".join(lines[-60:]))


def count_stages(work: Path, env: dict[str, str]) -> int:
    """Stages of the copy's pipeline (``dvc stage list``, one line per stage)."""
    return len([line for line in _run(["dvc", "stage", "list"], work, env).stdout.splitlines() if line.strip()])


@pytest.fixture(scope="module")
def demo_repo(tmp_path_factory: pytest.TempPathFactory, repo_root: Path) -> tuple[Path, dict[str, str]]:
    """The copy after ``dvc exp run -S profile=demo``; run at most once (see the module docstring)."""
    if _PIPELINE_FAILURE:
        pytest.skip(f"the demo pipeline already failed in this session: {_PIPELINE_FAILURE[0]}")
    try:
        return _run_demo(tmp_path_factory, repo_root)
    except Exception as exc:
        _PIPELINE_FAILURE.append(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
        raise


def _run_demo(tmp_path_factory: pytest.TempPathFactory, repo_root: Path) -> tuple[Path, dict[str, str]]:
    work = tmp_path_factory.mktemp("e2e") / "repo"
    for rel in _tracked_files(repo_root):
        src = repo_root / rel
        if src.is_file() and not rel.startswith(("results/", "reports/", "models/")) and rel != "dvc.lock":
            dst = work / rel
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dst)
    _keep_representative_entries(work / "params.yaml")
    env = {**os.environ, "DVC_NO_ANALYTICS": "1", "MLFLOW_DISABLE_TELEMETRY": "true", "MPLBACKEND": "Agg",
           "GIT_AUTHOR_NAME": "ci", "GIT_AUTHOR_EMAIL": "ci@example.invalid", "GIT_COMMITTER_NAME": "ci",
           "GIT_COMMITTER_EMAIL": "ci@example.invalid", "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    env["DENOISEBENCH_TRACKING"] = "1"
    env["PYTHONPATH"] = str(work / "src")  # the copy's own sources run (the tests below edit them)
    # ... so the mirror beside the installed checkout is not beside the copy: name it
    env["DENOISEBENCH_MIRROR"] = str(repo_root.parent / "shared" / "data")
    env.pop("MLFLOW_TRACKING_URI", None)
    env.pop("DENOISEBENCH_ROOT", None)
    _run(["git", "init", "-q"], work, env)
    _run(["git", "add", "-A"], work, env)
    _run(["git", "commit", "-qm", "copy"], work, env)
    budget = pipeline_budget(count_stages(work, env))
    run_pipeline(["dvc", "exp", "run", "-S", "profile=demo"], work, env, budget)
    return work, env


def test_demo_profile_writes_tables_and_metrics(demo_repo: tuple[Path, dict[str, str]]) -> None:
    work, _ = demo_repo
    results_md = (work / "reports" / "results.md").read_text()
    assert "demo" in results_md and "bm3d" in results_md and "dncnn_color_blind" in results_md
    metrics = json.loads((work / "results" / "metrics" / "bm3d.json").read_text())
    bm3d = metrics["demo"]["awgn_sigma25"]
    noisy = json.loads((work / "results" / "metrics" / "noisy.json").read_text())["demo"]["awgn_sigma25"]
    assert bm3d["psnr"] > noisy["psnr"] + 5.0  # BM3D removes most of sigma=25 noise
    assert bm3d["n_images"] >= 2
    grey = json.loads((work / "results" / "metrics" / "dncnn_gray_s25.json").read_text())
    assert "demo_gray" in grey and "demo" not in grey  # a grey model is skipped on the colour set
    assert (work / "reports" / "papers" / "004.md").is_file()
    assert (work / "reports" / "figures" / "psnr_by_cell.png").stat().st_size > 10_000  # the executed report notebook
    assert "result cells" in (work / "reports" / "report.ipynb").read_text()


def test_demo_profile_runs_every_paper_stage(demo_repo: tuple[Path, dict[str, str]]) -> None:
    work, _ = demo_repo
    for rel in ("paper_004/table4/highlevel.md", "paper_004/figures/fig4/fig4.png", "paper_003/figures/fig7/fig7.png",
                "paper_003/ablation/ablation.md", "paper_000/report/000_mtl.md"):
        assert (work / "reports" / rel).stat().st_size > 200, rel
    assert (work / "models" / "liu_joint_s25" / "model.pt").is_file()  # the cascade trained after its init model
    zero_shot = json.loads((work / "results" / "metrics" / "blind2grad.json").read_text())
    assert set(zero_shot) == {"demo_zs"} and zero_shot["demo_zs"]["awgn_sigma25"]["iterations"] > 0
    skipped = json.loads((work / "results" / "predictions" / "blind2grad" / "skipped.json").read_text())
    assert "zero-shot entries run only" in skipped["demo/awgn_sigma25"]
    mtl_skipped = json.loads((work / "results" / "predictions" / "dae_s1_hg" / "skipped.json").read_text())
    assert "evaluate_on" in mtl_skipped["demo/awgn_sigma25"]
    mtl = json.loads((work / "results" / "metrics" / "dae_s1_hg.json").read_text())
    assert set(mtl["demo_mtl"]) == {"hetero_gaussian_sampling-cbdnet"}  # evaluated on its training noise only
    joint = json.loads((work / "results" / "metrics" / "liu_joint_s25.json").read_text())
    assert joint["demo"]["awgn_sigma25"]["psnr"] > 0
    for rel in ("paper_001/metatest/metatest.md", "paper_001/ablation/ablation.md", "paper_002/report/report.md"):
        assert (work / "reports" / rel).stat().st_size > 200, rel
    assert json.loads((work / "results" / "metrics" / "meta_tta.json").read_text())  # papers 001/002 scored
    assert json.loads((work / "results" / "metrics" / "durn_rbh.json").read_text())


def test_entry_the_profile_does_not_run_finishes_with_empty_outputs(demo_repo: tuple[Path, dict[str, str]]) -> None:
    work, _ = demo_repo
    name = NOT_RUN_ENTRY[1]
    assert "run_entries.demo" in json.loads((work / "models" / name / "not_trained.json").read_text())["reason"]
    assert not (work / "models" / name / "model.pt").exists()
    skipped = json.loads((work / "results" / "predictions" / name / "skipped.json").read_text())
    assert skipped and all("not run in profile demo" in reason for reason in skipped.values())
    assert json.loads((work / "results" / "metrics" / f"{name}.json").read_text()) == {}


def test_demo_trains_only_entries_it_scores_or_a_paper_stage_reads(demo_repo: tuple[Path, dict[str, str]]) -> None:
    """Every model the demo trains is evaluated on a demo cell or named in a demo paper-stage section."""
    import yaml

    work, _ = demo_repo
    params = yaml.safe_load((work / "params.yaml").read_text())
    stage_sections = json.dumps({key: (params.get(key) or {}).get("demo") for group in params["paper_stages"].values()
                                 for key in group})
    trained = sorted(p.parent.name for p in (work / "models").glob("*/model.pt"))
    assert trained, "the demo trained nothing"
    for entry in trained:
        pred = work / "results" / "predictions" / entry
        cells = [p for p in pred.glob("*/*") if p.is_dir()]
        assert cells or f'"{entry}"' in stage_sections, f"{entry} is trained but no demo cell or paper stage uses it"


def test_demo_profile_logs_mlflow_runs(demo_repo: tuple[Path, dict[str, str]]) -> None:
    work, _ = demo_repo
    with sqlite3.connect(work / "mlflow.db") as db:
        stages = {row[0] for row in db.execute("select value from tags where key = 'stage'")}
        score_metrics = {row[0] for row in db.execute(
            "select distinct m.key from metrics m join tags t on t.run_uuid = m.run_uuid "
            "where t.key = 'stage' and t.value = 'score'")}
    assert {"train", "score"} <= stages  # predict's timings are logged by the score stage's run of the entry
    assert "sec_per_image.demo.awgn_sigma25" in score_metrics and "psnr.demo.awgn_sigma25" in score_metrics


def test_rerun_is_a_noop_and_metrics_show(demo_repo: tuple[Path, dict[str, str]]) -> None:
    work, env = demo_repo
    status = _run(["dvc", "status"], work, env)
    assert "changed" not in status.stdout, status.stdout
    shown = _run(["dvc", "metrics", "show", "--json"], work, env)
    assert "bm3d.json" in shown.stdout


def _status(work: Path, env: dict[str, str]) -> list[str]:
    out = _run([sys.executable, "-m", "denoisebench.cli", "status"], work, env).stdout
    return [] if out.strip() == "every entry is current" else out.splitlines()


def _stale(lines: list[str], stage: str) -> set[str]:
    return {line.split()[1].rstrip(":") for line in lines if line.startswith(stage + " ")}


@pytest.mark.parametrize("source, edit, expect", [
    # the zero-shot plumbing (paper 003s) runs inside the zero-shot methods denoise: their predictions only
    ("papers/p003_blind2grad/common.py", "\n# edited\n", {"predict": {"blind2grad", "zsn2n"}}),
    # the dataset listing lists every training set: every trained entry
    ("datasets/loaders.py", "\n# edited\n", {"train": {"dncnn_color_blind", "dncnn_gray_s25", "durn_rbh"}}),
    # Fig. 4 of paper 004 draws with zoom.py
    ("zoom.py", "\n# edited\n", {"paper": {"fig4_004"}}),
    # a loss swapped in the training code: every trained entry (and it trains anew: its checkpoints are dropped)
    ("training/config.py", "\n# edited\n", {"train": {"dncnn_color_blind", "meta_tta", "liu_joint_s25"}}),
])
def test_status_names_the_entries_an_edit_reaches(demo_repo: tuple[Path, dict[str, str]], source: str, edit: str,
                                                  expect: dict[str, set[str]]) -> None:
    work, env = demo_repo
    path = work / "src" / "denoisebench" / source
    original = path.read_bytes()
    try:
        path.write_bytes(original + edit.encode())
        lines = _status(work, env)
    finally:
        path.write_bytes(original)
    for stage, entries in expect.items():
        assert entries <= _stale(lines, stage), "\n".join(lines)
    assert all(f"source changed: src/denoisebench/{source}" in line for line in lines), "\n".join(lines)
    assert _status(work, env) == []


def test_an_edit_to_one_paper_reruns_only_that_papers_entries(demo_repo: tuple[Path, dict[str, str]]) -> None:
    work, env = demo_repo
    path = work / "src" / "denoisebench" / "papers" / "p003_blind2grad" / "method.py"
    original = path.read_bytes()
    try:
        path.write_bytes(original + b"\n# edited\n")
        lines = _status(work, env)
    finally:
        path.write_bytes(original)
    paper_003 = {"blind2grad", "zsn2n"}  # the demo's entries whose code is paper 003's package
    assert _stale(lines, "predict") == paper_003 and _stale(lines, "train") == set(), "\n".join(lines)
    assert _stale(lines, "score") <= paper_003, "\n".join(lines)
    assert _stale(lines, "paper") <= {"fig7_003", "ablation_003"}, "\n".join(lines)


def test_damaged_outputs_are_rebuilt_and_identical_checkouts_are_not(demo_repo: tuple[Path, dict[str, str]]) -> None:
    """A truncated model, a zeroed prediction and an edited metrics file: `denoisebench status` names them,
    `dvc repro` rebuilds exactly those to the same bytes; touching every output (a checkout of identical files)
    rebuilds nothing."""
    import numpy as np

    work, env = demo_repo
    model = work / "models" / "dncnn_gray_s25" / "model.pt"
    prediction = next((work / "results" / "predictions" / "noisy").rglob("*.npy"))
    metrics = work / "results" / "metrics" / "bm3d.json"
    before = {path: path.read_bytes() for path in (model, prediction, metrics)}
    model.write_bytes(before[model][: len(before[model]) // 2])
    np.save(prediction, np.zeros_like(np.load(prediction)))
    metrics.write_text(metrics.read_text().replace('"psnr": ', '"psnr": 9', 1))
    lines = _status(work, env)
    assert {"dncnn_gray_s25"} <= _stale(lines, "train") and "noisy" in _stale(lines, "predict"), "\n".join(lines)
    assert "bm3d" in _stale(lines, "score"), "\n".join(lines)
    run_pipeline(["dvc", "repro"], work, env, pipeline_budget(count_stages(work, env)))
    import torch

    rebuilt = torch.load(model, map_location="cpu", weights_only=False)["model"]
    original = torch.load(__import__("io").BytesIO(before[model]), map_location="cpu", weights_only=False)["model"]
    assert all(torch.equal(rebuilt[k], original[k]) for k in original)  # deterministic retraining
    assert prediction.read_bytes() == before[prediction] and metrics.read_bytes() == before[metrics]
    for root in ("models", "results/predictions", "results/scores"):
        for file in (work / root).rglob("*"):
            os.utime(file, None)
    assert _status(work, env) == []


def test_summary_and_plots_for_comparing_experiments(demo_repo: tuple[Path, dict[str, str]]) -> None:
    work, env = demo_repo
    summary = json.loads((work / "results" / "summary" / "summary.json").read_text())
    assert summary["psnr"]["bm3d"] > summary["psnr"]["noisy"]
    curve = (work / "results" / "curves" / "dncnn_color_blind.csv").read_text().splitlines()
    assert curve[0].startswith("step,loss") and len(curve) > 2
    plots = json.loads(_run(["dvc", "plots", "show", "--json"], work, env).stdout)
    shown = json.dumps(plots)
    assert "reported_vs_reproduced.csv" in shown and "training_curves.csv" in shown and "dncnn_color_blind" in shown
    headline = _run(["dvc", "exp", "show", "--md", "--drop", ".*", "--keep", r"^(Experiment|profile)$|^psnr\."],
                    work, env).stdout
    assert "psnr.bm3d" in headline and max(len(line) for line in headline.splitlines()) < 1000


def test_demo_run_travels_through_a_dvc_remote(demo_repo: tuple[Path, dict[str, str]], tmp_path: Path) -> None:
    """Push the finished demo run, clone elsewhere, pull: `dvc repro` is a no-op there and every output of the
    tables' upstream (models, predictions, noisy sets, data, scores, tables) is byte-identical."""
    from remote_roundtrip import roundtrip

    work, env = demo_repo
    digests = roundtrip(work, env, ["tables"], tmp_path)
    assert "reports/results.md" in digests and any(name.startswith("models/dncnn_gray_s25") for name in digests)


def test_exp_run_on_one_entry_retrains_repredicts_and_rescores_that_entry_only(
        demo_repo: tuple[Path, dict[str, str]]) -> None:
    """`dvc exp run -S train.<entry>.demo.<key>=...`: the train, predict and score stages rerun (one stage each for
    every entry) and redo that entry only. Runs last: it changes the copy's workspace."""
    work, env = demo_repo
    entry = "dncnn_gray_s25"
    budget = pipeline_budget(3)
    proc = subprocess.run(["dvc", "exp", "run", "-S", f"train.{entry}.demo.lr=0.002", "score"], cwd=work, env=env,
                          capture_output=True, text=True, timeout=budget)
    lines = (proc.stdout + proc.stderr).splitlines()
    assert proc.returncode == 0, "\n".join(lines[-60:])
    trained = [m.group(1) for line in lines if (m := re.search(r"INFO train (\S+): input changed", line))]
    assert trained == [entry], "\n".join(lines[-60:])
    assert any(re.search(r"predict: rebuilt 1 entries, \d+ current", line) for line in lines), "\n".join(lines[-60:])
    assert any(re.search(r"score: rebuilt 1 entries, \d+ current", line) for line in lines), "\n".join(lines[-60:])
    summary = json.loads((work / "models" / entry / "summary.json").read_text())
    assert summary["schedule"]["lr"] == 0.002


def test_pipeline_timeout_and_failure_name_the_running_stage() -> None:
    """The harness itself (no DVC): a stage that hangs past the budget, and one that fails."""
    hang = [sys.executable, "-c", "import time; print(\"Running stage 'train@x':\", flush=True); time.sleep(60)"]
    start = time.monotonic()
    with pytest.raises(AssertionError, match=r"past its budget of 2 s.*stage running: train@x"):
        run_pipeline(hang, Path.cwd(), dict(os.environ), budget=2)
    assert time.monotonic() - start < 30  # the hung command was killed, not waited for
    fail = [sys.executable, "-c", "print(\"Running stage 'a':\"); print(\"Running stage 'score@y':\"); exit(3)"]
    with pytest.raises(AssertionError, match=r"exit 3\).*in stage score@y"):
        run_pipeline(fail, Path.cwd(), dict(os.environ), budget=60)


def test_pipeline_budget_scales_with_the_stages(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DENOISEBENCH_E2E_SECONDS_PER_STAGE", raising=False)
    assert pipeline_budget(40) - pipeline_budget(20) == 20 * SECONDS_PER_STAGE
    monkeypatch.setenv("DENOISEBENCH_E2E_SECONDS_PER_STAGE", "5")
    assert pipeline_budget(10) == SECONDS_BASE + 50

"""benchmarks/gpu_check.py in its reduced CPU mode (so it cannot rot): discovery of every entry, a standalone run
without DVC/MLflow/tqdm, the report's figures."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))

import gpu_check


def test_discovers_every_trained_and_zero_shot_entry_of_params() -> None:
    params = yaml.safe_load((REPO / "params.yaml").read_text(encoding="utf-8"))
    learned, zero_shot = gpu_check.discover(params, None)
    methods = params["methods"]
    expected = [e for g in ("learned", "cascade") for e in methods.get(g) or {} if e in params["train"]]
    assert learned == expected and len(learned) >= 10
    assert set(zero_shot) == {e for e, raw in methods["classical"].items()
                              if raw["method"] in ("blind2grad", "zsn2n", "self2self")}
    assert gpu_check.discover(params, ["dncnn_*"])[0] == [e for e in expected if e.startswith("dncnn_")]


def test_round_robin_visits_each_method_before_repeating_one() -> None:
    order = gpu_check.round_robin(["a1", "a2", "b1", "a3", "c1"], lambda e: e[0])
    assert order == ["a1", "b1", "c1", "a2", "a3"]


def test_reduced_run_is_standalone_and_reports_figures(tmp_path: Path) -> None:
    out = tmp_path / "check.json"
    code = ("import sys; sys.path.insert(0, 'benchmarks'); import block_imports, gpu_check; "
            "raise SystemExit(gpu_check.main(sys.argv[1:]))")
    env = {**os.environ, "PYTHONPATH": f"{REPO / 'tests'}{os.pathsep}{REPO / 'src'}", "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-c", code, "--reduced", "--only", "dncnn_gray_s25", "dae_s2_awgn",
                           "durn_rbh", "meta_tta_official", "zsn2n", "nothing_matches_*", "--json", str(out)],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=400, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(out.read_text())
    results = {r["entry"]: r for r in report["results"]}
    assert set(results) == {"dncnn_gray_s25", "dae_s2_awgn", "durn_rbh", "meta_tta_official", "zsn2n"}
    # papers 001 and 002: their own schedules (two stages / task cycles) and decoders run through the same check
    for name, paper_steps in (("durn_rbh", 100000), ("meta_tta_official", 150 * 2 * 50 + 19500)):
        assert results[name]["status"] == "ok", results[name]
        assert results[name]["paper_iterations"] == paper_steps and results[name]["infer_mp_per_s"] > 0
    for name in ("dncnn_gray_s25", "dae_s2_awgn"):
        r = results[name]
        assert r["status"] == "ok", r
        assert r["checks"]["on_device"] and r["param_devices"] == ["cpu"]
        assert r["steps_per_s"] > 0 and r["patches_per_s"] == r["steps_per_s"] * r["batch_size"]
        assert r["paper_iterations"] == yaml.safe_load((REPO / "params.yaml").read_text())["train"][name]["paper"][
            "iterations"]
        assert r["projected_paper_h"] > 0 and r["infer_mp_per_s"] > 0
    zs = results["zsn2n"]
    assert zs["status"] == "ok" and zs["per_image_s"] > 0 and zs["paper_iterations"] == 2000
    assert "steps/s" in done.stdout and "zsn2n" in done.stdout

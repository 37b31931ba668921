"""Paper 003's convergence curve (``python stages/paper.py 003 convergence``): the fits and a tiny logged run."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest



@pytest.fixture(scope="module")
def stage():
    from denoisebench.papers.p003_blind2grad import convergence

    return convergence


def test_exponential_fit_recovers_plateau_and_flattening_point(stage) -> None:
    steps = np.arange(200, 3001, 200)
    u = 2e-5 * steps
    psnr = 26.0 - 6.0 * np.exp(-steps / 800.0) + np.random.default_rng(0).normal(0, 0.02, steps.size)
    f = stage.saturating_fit(u, psnr)
    assert f["p_inf"] == pytest.approx(26.0, abs=0.05)
    assert f["tau"] / 2e-5 == pytest.approx(800.0, rel=0.05)
    assert f["u_flat"] / 2e-5 == pytest.approx(800.0 * np.log(6.0 / 0.1), rel=0.05)


def test_power_fit_recovers_exponent_and_rejects_a_line(stage) -> None:
    steps = np.arange(200, 3001, 200).astype(float)
    f = stage.power_fit(steps, 26.0 - 300.0 * steps ** -1.0)
    assert f["b"] == pytest.approx(1.0, abs=0.01)
    assert f["u_flat"] == pytest.approx(3000.0, rel=0.02)
    with pytest.raises(ValueError, match="no plateau"):
        stage.power_fit(steps, 20.0 + 1e-3 * steps)  # still rising linearly: no plateau to find


def test_run_logs_each_snapshot_and_stops_on_cpu_budget(stage, shared_data: Path, tmp_path: Path, capsys) -> None:
    common = ["run", "--root", str(shared_data), "--image", "kodim03", "--size", "32", "--lr", "1e-3",
              "--iterations", "4", "--every", "2", "--n-avg", "1"]
    full, cut = tmp_path / "full.csv", tmp_path / "cut.csv"
    stage.main([*common, "--csv", str(full)])
    rows = list(csv.DictReader(full.open()))
    assert [int(r["iterations"]) for r in rows] == [0, 2, 4]
    assert [float(r["lr_steps"]) for r in rows] == [0.0, 0.002, 0.004]
    assert {r["image"] for r in rows} == {"kodim03"} and all(float(r["psnr"]) > 0 for r in rows)
    stage.main([*common, "--csv", str(cut), "--max-cpu-seconds", "1e-9"])
    assert [int(r["iterations"]) for r in csv.DictReader(cut.open())] == [0, 2]
    assert "stopped after --max-cpu-seconds" in capsys.readouterr().out
    stage.main(["fit", "--csv", str(full), "--fit-from", "0"])
    assert "lr 0.001: 3 points" in (out := capsys.readouterr().out) and "too few points" in out

"""The ablation stage of paper 003 (Blind2Grad ablation grid, paper 003): a tiny synthetic run and the error messages."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from denoisebench.errors import ConfigError

REPO = Path(__file__).resolve().parents[1]
TINY = json.dumps({"cycles": 2, "iterations": 1, "lr": 0.001, "n_avg": 1, "n_avg_cycle": 1})


@pytest.fixture(scope="module")
def stage():
    from denoisebench.papers.p003_blind2grad import ablation

    return ablation


@pytest.fixture()
def tiny_images(stage, monkeypatch):
    """Replace the dataset loader by one 48x48 scikit-image crop (the stage then centre-crops it to 32x32)."""
    from skimage import data

    image = data.astronaut()[100:148, 200:248].astype(np.float32) / 255.0
    calls = []

    class Sample:
        id = "astro"

        def clean(self) -> np.ndarray:
            return image

    def fake(dataset, root, split=None, limit=None):
        calls.append((dataset, str(root), limit))
        return [Sample()][:limit]

    import denoisebench.datasets

    monkeypatch.setattr(denoisebench.datasets, "list_samples", fake)
    return calls


def _argv(tmp_path: Path, grid: str, base: str = TINY) -> list[str]:
    return ["--images", "1", "--size", "32", "--sigma", "25", "--dataset", "kodak24", "--data-root", "nowhere",
            "--base", base, "--grid", grid, "--csv", str(tmp_path / "out" / "abl.csv"),
            "--out", str(tmp_path / "rep" / "sub" / "abl.md"), "--seed", "0", "--device", "cpu",
            "--params", str(tmp_path / "no-params.yaml")]


def test_mask_grid_writes_csv_and_markdown(stage, tiny_images, tmp_path: Path) -> None:
    rows = stage.main(_argv(tmp_path, "mask_tstandout"))
    assert tiny_images == [("kodak24", "nowhere", 1)]
    with (tmp_path / "out" / "abl.csv").open() as fh:
        table = list(csv.DictReader(fh))
    assert [r["variant"] for r in table] == ["DM+D", "DM", "BM+D", "BM", "UM+D", "UM"] == [r["variant"] for r in rows]
    assert {r["grid"] for r in table} == {"mask_tstandout"} and {r["images"] for r in table} == {"1"}
    assert json.loads(table[3]["changes"]) == {"mask": "bernoulli", "tstandout": False}
    for r in table:
        assert 0.0 < float(r["psnr"]) < 60.0 and -1.0 <= float(r["ssim"]) <= 1.0  # 2 steps: scores are meaningless
        assert float(r["seconds_per_image"]) >= 0.0 and r["same_as"] == ""
    text = (tmp_path / "rep" / "sub" / "abl.md").read_text(encoding="utf-8")
    assert "**Warning: this is a short CPU schedule" in text and "3 x 3000" in text
    assert "centre crops 32 x 32" in text and "sigma = 25" in text and "2 cycles x 1 Adam steps" in text
    assert "## `mask_tstandout`" in text and "## `omega`" not in text
    for label in ("| DM+D |", "| BM |", "| UM+D |"):
        assert label in text
    assert "Dual mask best" in text and "omega = 0.8 best" in text and "not run (grid `omega`)" in text
    assert not list((tmp_path / "out").glob(".*tmp*")) and not list((tmp_path / "rep" / "sub").glob(".*tmp*"))


def test_both_grids_share_the_identical_run(stage, tiny_images, tmp_path: Path) -> None:
    rows = stage.main(_argv(tmp_path, "mask_tstandout,omega"))
    assert [r["variant"] for r in rows][6:] == ["omega=0.8", "omega=0.2", "omega=0.5", "omega=1.0"]
    assert rows[6]["same_as"] == "mask_tstandout/DM+D" and rows[6]["psnr"] == rows[0]["psnr"]
    assert all(not r["same_as"] for r in rows[7:])
    text = (tmp_path / "rep" / "sub" / "abl.md").read_text(encoding="utf-8")
    omega_table = text.split("## `omega`")[1].split("##")[0]
    assert [line.split("|")[1].strip() for line in omega_table.splitlines() if line.startswith("| omega=")] == [
        "omega=0.2", "omega=0.5", "omega=0.8", "omega=1.0"]
    assert "not run" not in text.split("The paper's claims")[1]


def test_claim_verdicts(stage) -> None:
    rows = [{"grid": "mask_tstandout", "variant": v.label, "psnr": p, "ssim": 0.5}
            for v, p in zip(stage.GRIDS["mask_tstandout"][1], [30, 29, 28, 27.5, 26, 26.5])]
    rows += [{"grid": "omega", "variant": f"omega={w:.1f}", "psnr": p, "ssim": 0.5}
             for w, p in [(0.2, 29.0), (0.5, 29.5), (0.8, 30.0), (1.0, 29.9)]]
    verdicts = dict(stage.claims(rows))
    assert all(v.startswith("**agrees**") for v in verdicts.values()), verdicts
    rows[0]["psnr"] = 27.9  # DM+D now below BM+D and DM: partly / disagrees
    verdicts = list(stage.claims(rows))
    assert verdicts[0][1].startswith("**partly**") and verdicts[1][1].startswith("**disagrees**: best is DM ")


def test_bad_grid_and_base_key(stage, tiny_images, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"unknown ablation grid\(s\) \['masks'\]; valid grids: mask_tstandout, omega"):
        stage.main(_argv(tmp_path, "masks,omega"))
    with pytest.raises(ConfigError, match=r"unknown config keys \['iters'\]; valid keys: .*iterations"):
        stage.main(_argv(tmp_path, "omega", base='{"iters": 2}'))
    with pytest.raises(ConfigError, match=r"mask='dots' must be one of .*dual"):
        stage.main(_argv(tmp_path, "omega", base='{"mask": "dots"}'))
    with pytest.raises(ConfigError, match="--base must be a JSON object"):
        stage.main(_argv(tmp_path, "omega", base="[1]"))
    assert not tiny_images and not (tmp_path / "out").exists()  # rejected before loading or writing anything


def test_profile_defaults_from_params(stage, tiny_images, tmp_path: Path) -> None:
    params = tmp_path / "params.yaml"
    params.write_text("profile: demo\nablation_003:\n  demo: {dataset: demo, images: 1, size: 32, sigma: 15,\n"
                      "         base: {cycles: 1, iterations: 1, lr: 0.001, n_avg: 1, n_avg_cycle: 1}}\n")
    out = tmp_path / "abl.md"
    rows = stage.main(["--grid", "omega", "--csv", str(tmp_path / "abl.csv"), "--out", str(out),
                       "--params", str(params), "--data-root", "nowhere"])
    assert tiny_images == [("demo", "nowhere", 1)] and len(rows) == 4
    text = out.read_text(encoding="utf-8")
    assert "of `demo`" in text and "sigma = 15" in text and "1 cycles x 1 Adam steps" in text
    params.write_text("profile: demo\nablation_003:\n  demo: {imgs: 1}\n")
    with pytest.raises(ConfigError, match=r"ablation_003.demo has unknown keys \['imgs'\]"):
        stage.main(["--params", str(params)])

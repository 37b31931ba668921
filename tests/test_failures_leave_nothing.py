"""Failures leave nothing that looks complete, and known errors read as one message (issue 14 items 3, 4, 6;
issue 10 "errors through DVC"). Everything is checked as the user sees it: exit status, stderr, files on disk."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image

from clirun import REPO_ROOT, assert_clean_failure, cli, stage
from denoisebench.fsutil import atomic_dir
from denoisebench.stage_support import run_stage


def good_and_corrupt(folder: Path) -> Path:
    """A folder with a good image (a.png, sorted first) and a corrupt one (b.png)."""
    folder.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((16, 16, 3), 90, np.uint8)).save(folder / "a.png")
    (folder / "b.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    return folder


# ---------------------------------------------------------------------------------------------- item 3: folders
def test_denoise_folder_with_a_corrupt_image_writes_nothing(tmp_path: Path) -> None:
    good_and_corrupt(tmp_path / "in")
    proc = cli("denoise", "--method", "noisy", "--sigma", "10", "--input", "in", "--output", "out", cwd=tmp_path)
    assert_clean_failure(proc, "b.png", "corrupt")
    assert not (tmp_path / "out").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary folder left behind


def test_synthesize_folder_with_a_corrupt_image_leaves_no_npy(tmp_path: Path) -> None:
    good_and_corrupt(tmp_path / "in")
    proc = cli("synthesize", "--input", "in", "--output", "out", "--noise", "awgn", "--sigma", "25", cwd=tmp_path)
    assert_clean_failure(proc, "b.png")
    assert not (tmp_path / "out").exists()
    assert not list(tmp_path.rglob("*.npy"))


def test_denoise_folder_success_merges_into_existing_output(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    Image.fromarray(np.full((16, 16, 3), 90, np.uint8)).save(folder / "a.png")
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "keep.txt").write_text("user file")
    proc = cli("denoise", "--method", "noisy", "--sigma", "10", "--input", "in", "--output", "out", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    # the user's file is kept; the record of what denoisebench wrote lets a rerun replace a.png
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [".denoisebench-outputs.json", "a.png", "keep.txt"]
    assert cli("denoise", "--method", "noisy", "--sigma", "10", "--input", "in", "--output", "out",
               cwd=tmp_path).returncode == 0


def test_atomic_dir_replace_keeps_the_old_folder_on_failure(tmp_path: Path) -> None:
    target = tmp_path / "cell"
    target.mkdir()
    (target / "manifest.json").write_text("{}")
    with pytest.raises(RuntimeError):
        with atomic_dir(target, replace=True) as tmp:
            (tmp / "x.npy").write_bytes(b"")
            raise RuntimeError("boom")
    assert sorted(p.name for p in target.iterdir()) == ["manifest.json"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cell"]
    with atomic_dir(target, replace=True) as tmp:
        (tmp / "y.npy").write_bytes(b"")
    assert sorted(p.name for p in target.iterdir()) == ["y.npy"]


# --------------------------------------------------------------------------------------- item 4: known errors
def test_bm3d_on_a_tiny_image(tmp_path: Path) -> None:
    Image.fromarray(np.full((6, 20, 3), 90, np.uint8)).save(tmp_path / "tiny.png")
    proc = cli("denoise", "--method", "bm3d", "--sigma", "25", "--input", "tiny.png", "--output", "o.png",
               cwd=tmp_path)
    assert_clean_failure(proc, "6x20", "8x8 block", "another method")
    assert not (tmp_path / "o.png").exists()


def test_score_of_images_of_different_sizes(tmp_path: Path) -> None:
    for folder, shape in (("ref", (16, 16, 3)), ("res", (20, 16, 3))):
        (tmp_path / folder).mkdir()
        Image.fromarray(np.zeros(shape, np.uint8)).save(tmp_path / folder / "a.png")
    proc = cli("score", "--reference", "ref", "--restored", "res", cwd=tmp_path)
    assert_clean_failure(proc, "ref/a.png vs res/a.png", "(16, 16, 3) != restored shape (20, 16, 3)")


def params_file(folder: Path, **changes: object) -> Path:
    """The repository's params.yaml with top-level ``changes``, written to ``folder``."""
    params = yaml.safe_load((REPO_ROOT / "params.yaml").read_text())
    params.update(changes)
    path = folder / "params.yaml"
    path.write_text(yaml.safe_dump(params))
    return path


def test_download_stage_unknown_profile(tmp_path: Path) -> None:
    params_file(tmp_path, profile="huge")
    proc = stage("download", cwd=tmp_path)
    assert_clean_failure(proc, "error: params.yaml: profile='huge' is not one of demo, quick, paper")
    assert proc.returncode == 2
    assert not (tmp_path / "data").exists()  # validated before data.root is created or touched


def test_predict_stage_unknown_config_key_names_its_section(tmp_path: Path) -> None:
    params = yaml.safe_load((REPO_ROOT / "params.yaml").read_text())
    params["methods"]["classical"]["bm3d"]["sigmaa"] = 25
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    proc = stage("predict", "--entry", "bm3d", cwd=tmp_path)
    assert_clean_failure(proc, "params.yaml: methods.classical.bm3d:", "unknown config keys ['sigmaa']",
                         "valid keys: colorspace, profile")


def test_synthesize_stage_without_data(tmp_path: Path) -> None:
    params_file(tmp_path, profile="demo", data={"root": "nothing_here", "mirror": None})
    proc = stage("synthesize", "--out", "noisy", cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr


def test_unexpected_errors_keep_their_traceback() -> None:
    def bug() -> None:
        raise RuntimeError("a bug")

    with pytest.raises(RuntimeError, match="a bug"):
        run_stage(bug)


@pytest.mark.slow
def test_unknown_profile_under_dvc_keeps_data_raw(tmp_path: Path, shared_data: Path) -> None:
    """`dvc repro` deletes a stage's non-persistent outputs before running it: with the repository's download
    stage definition, a failing run (unknown profile) must leave data/raw as it was, and say why it failed."""
    dvc = [sys.executable, "-m", "dvc"]
    definition = yaml.safe_load((REPO_ROOT / "dvc.yaml").read_text())["stages"]["download"]
    definition["cmd"] = f"{sys.executable} {REPO_ROOT / 'stages' / 'download.py'}"
    definition.pop("deps", None)  # paths of the repository; the stage's outs and params are what is tested
    (tmp_path / "dvc.yaml").write_text(yaml.safe_dump({"stages": {"download": definition}}))
    params = yaml.safe_load((REPO_ROOT / "params.yaml").read_text())
    params.update(profile="demo", data={"root": "data/raw", "mirror": str(shared_data)})
    params["evaluation"]["demo"] = {"limit_images": 1, "sets": [{"name": "set12", "dataset": "set12",
                                                                 "noise": ["awgn:sigma=25"]}]}
    params["methods"] = {"classical": {"noisy": {"method": "noisy"}}}
    params["run_entries"]["demo"] = ["noisy"]
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    env_run = lambda *args: subprocess.run([*dvc, *args], cwd=tmp_path, capture_output=True, text=True,  # noqa: E731
                                           timeout=300, check=False,
                                           env={**__import__("os").environ, "PYTHONPATH": str(REPO_ROOT / "src")})
    assert env_run("init", "--no-scm", "-q").returncode == 0
    first = env_run("repro", "download")
    assert first.returncode == 0, first.stdout + first.stderr
    before = sorted(p.relative_to(tmp_path) for p in (tmp_path / "data" / "raw").rglob("*") if p.is_file())
    assert any(p.suffix == ".png" for p in before)
    params["profile"] = "huge"
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    second = env_run("repro", "download")
    assert second.returncode != 0
    assert "profile='huge' is not one of demo, quick, paper" in second.stdout + second.stderr
    assert "Traceback" not in second.stdout + second.stderr
    after = sorted(p.relative_to(tmp_path) for p in (tmp_path / "data" / "raw").rglob("*") if p.is_file())
    assert after == before
    shutil.rmtree(tmp_path / ".dvc", ignore_errors=True)


# ----------------------------------------------------------------------------- item 6: entries from anywhere
def project(tmp_path: Path) -> Path:
    """A project root (dvc.yaml + params.yaml) with a classical entry and a learned one."""
    root = tmp_path / "proj"
    root.mkdir()
    (root / "dvc.yaml").write_text("stages: {}\n")
    (root / "params.yaml").write_text(yaml.safe_dump({
        "profile": "demo",
        "methods": {"classical": {"smooth_tv": {"method": "tv", "weight": 0.05}},
                    "learned": {"my_dncnn": {"method": "dncnn"}}},
    }))
    (root / "photos").mkdir()
    Image.fromarray(np.full((16, 16, 3), 90, np.uint8)).save(root / "photos" / "a.png")
    return root


def test_denoise_with_a_params_entry_from_a_subfolder(tmp_path: Path) -> None:
    root = project(tmp_path)
    proc = cli("denoise", "--method", "smooth_tv", "--input", "a.png", "--output", "b.png", "--sigma", "10",
               cwd=root / "photos")
    assert proc.returncode == 0, proc.stderr
    assert f"params entry methods.classical.smooth_tv read from {root / 'params.yaml'}" in proc.stderr
    assert (root / "photos" / "b.png").is_file()


def test_learned_entry_uses_the_checkpoint_beside_the_params(tmp_path: Path) -> None:
    root = project(tmp_path)
    proc = cli("denoise", "--method", "my_dncnn", "--input", "a.png", "--output", "b.png", cwd=root / "photos")
    assert_clean_failure(proc, f"checkpoint {root / 'models' / 'my_dncnn' / 'model.pt'} not found")


def test_explicit_params_and_methods_listing(tmp_path: Path) -> None:
    root = project(tmp_path)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    proc = cli("methods", "--params", str(root / "params.yaml"), cwd=elsewhere)
    assert proc.returncode == 0, proc.stderr
    assert f"params entries of {root / 'params.yaml'}" in proc.stdout
    assert "smooth_tv" in proc.stdout and "my_dncnn" in proc.stdout and "not trained yet" in proc.stdout
    bad = cli("denoise", "--method", "smooth_tvv", "--params", str(root / "params.yaml"), "--input", "x.png",
              "--output", "y.png", cwd=elsewhere)
    assert_clean_failure(bad, "unknown method 'smooth_tvv'", "params entries of", "smooth_tv")

"""Finding the offline mirror without configuration: beside the checkout, then the setting, then the env."""

from __future__ import annotations

import logging
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import denoisebench.mirror as mirror_mod
from denoisebench.datasets import fetch_dataset, verify_dataset
from denoisebench.mirror import checkout_roots, data_mirror, find_repo_root, shared_mirror_root


@pytest.fixture
def layout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    """``<tmp>/repo`` (a checkout with dvc.yaml), ``<tmp>/shared/data`` beside it, two other mirrors; no env, and
    the package's own checkout left out of the lookup."""
    repo, beside = tmp_path / "repo", tmp_path / "shared" / "data"
    setting, env = tmp_path / "setting_mirror", tmp_path / "env_mirror"
    for folder in (repo / "src", beside, setting, env):
        folder.mkdir(parents=True)
    (repo / "dvc.yaml").write_text("stages: {}\n")
    monkeypatch.delenv("DENOISEBENCH_MIRROR", raising=False)
    monkeypatch.delenv("DENOISEBENCH_ROOT", raising=False)
    monkeypatch.setattr(mirror_mod, "PACKAGE_CHECKOUT", tmp_path / "not_a_checkout")
    return {"repo": repo, "beside": beside, "setting": setting, "env": env}


def test_lookup_order_beside_checkout_then_setting_then_env(layout: dict[str, Path],
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DENOISEBENCH_MIRROR", str(layout["env"]))
    params = {"data": {"mirror": str(layout["setting"])}}
    start = layout["repo"]
    assert data_mirror(params, start) == layout["beside"].resolve()
    shutil.rmtree(layout["beside"])
    assert data_mirror(params, start) == layout["setting"].resolve()
    assert data_mirror({"data": {"mirror": None}}, start) == layout["env"].resolve()
    monkeypatch.delenv("DENOISEBENCH_MIRROR")
    assert data_mirror(params={}, start=start) is None


def test_beside_checkout_is_resolved_from_the_repository_root_not_the_cwd(layout: dict[str, Path],
                                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(layout["repo"] / "src")  # ../shared/data from here does not exist
    assert find_repo_root() == layout["repo"].resolve()
    assert data_mirror() == layout["beside"].resolve()
    assert shared_mirror_root() == layout["beside"].parent.resolve()  # weights/ is its sibling of data/


def test_relative_setting_is_resolved_from_the_repository_root(layout: dict[str, Path],
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    shutil.rmtree(layout["beside"])
    monkeypatch.chdir(layout["repo"] / "src")
    assert data_mirror({"data": {"mirror": "../setting_mirror"}}) == layout["setting"].resolve()


def test_queued_experiment_copy_finds_the_mirror_beside_its_repository(layout: dict[str, Path],
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    copy = layout["repo"] / ".dvc" / "tmp" / "exps" / "tmpabc123"
    copy.mkdir(parents=True)
    (copy / "dvc.yaml").write_text("stages: {}\n")
    monkeypatch.chdir(copy)
    assert checkout_roots() == [copy.resolve(), layout["repo"].resolve()]
    assert data_mirror() == layout["beside"].resolve()


def test_configured_mirror_that_is_not_a_folder_is_named_and_skipped(layout: dict[str, Path],
                                                                     monkeypatch: pytest.MonkeyPatch,
                                                                     caplog: pytest.LogCaptureFixture) -> None:
    shutil.rmtree(layout["beside"])
    monkeypatch.setenv("DENOISEBENCH_MIRROR", str(layout["env"]))
    with caplog.at_level(logging.WARNING, logger="denoisebench.mirror"):
        found = data_mirror({"data": {"mirror": str(layout["repo"] / "typo")}}, layout["repo"])
    assert found == layout["env"].resolve()
    assert "params data.mirror" in caplog.text and "typo" in caplog.text


def test_download_stage_takes_the_camera_tables_from_the_mirror_beside_the_checkout(
        layout: dict[str, Path], shared_data: Path, repo_root: Path) -> None:
    """The demo profile's download stage, run with no variable set in a checkout whose mirror lies beside it,
    fetches `cbdnet_crf` (the camera pipeline's tables) and the released models of the `pretrained` entries from
    that mirror and its `weights/` sibling, not from the network."""
    shutil.copytree(shared_data / "CBDNet_CRF", layout["beside"] / "CBDNet_CRF")
    weights = shared_data.parent / "weights"
    if not weights.is_dir():
        pytest.skip(f"{weights} (the released models beside the data mirror) is not available")
    shutil.copytree(weights, layout["beside"].parent / "weights")
    repo = layout["repo"]
    params = (repo_root / "params.yaml").read_text().replace("profile: quick", "profile: demo", 1)
    (repo / "params.yaml").write_text(params)
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(repo_root / "src"), "DENOISEBENCH_TRACKING": "0",
           "HOME": str(repo)}
    done = subprocess.run([sys.executable, str(repo_root / "stages" / "download.py")], cwd=repo, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert str(layout["beside"].resolve()) in done.stderr  # the log names the mirror it used
    assert verify_dataset("cbdnet_crf", repo / "data" / "raw").ok
    assert (repo / "data" / "raw" / "weights").is_dir() and "cannot reach" not in done.stderr


def test_fetch_without_mirror_argument_uses_the_discovered_mirror(layout: dict[str, Path], shared_data: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    shutil.copytree(shared_data / "CBDNet_CRF", layout["beside"] / "CBDNet_CRF")
    monkeypatch.chdir(layout["repo"])
    folder = fetch_dataset("cbdnet_crf", layout["repo"] / "data", allow_download=False)
    assert verify_dataset("cbdnet_crf", folder.parent).ok

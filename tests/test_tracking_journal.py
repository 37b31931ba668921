"""Idempotent MLflow journal replay (issue 24, item 3).

Before: a replay killed half-way was replayed again (two runs with one ``journal_run_id``, one stuck RUNNING); a
journal whose artifact was missing failed every flush (and the score stage) with a traceback, adding a RUNNING run
per try; a damaged ``mlflow.db`` failed the stage. Now one journal gives exactly one run with its final status,
and a journal that cannot be replayed is set aside with one warning line, listed, retried or dropped by the CLI.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from denoisebench import tracking
from denoisebench.tracking_journal import JOURNAL_TAG, REPLAYED_TAG, failed_root, journal_root


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A repository root with a SQLite store, in deferred tracking mode."""
    monkeypatch.setenv("DENOISEBENCH_ROOT", str(tmp_path))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    monkeypatch.setenv("DENOISEBENCH_TRACKING", "deferred")
    monkeypatch.delenv("DVC_EXP_NAME", raising=False)
    monkeypatch.delenv("DENOISEBENCH_RUN_GROUP", raising=False)
    return tmp_path


def _journal(name: str, image: bool = True) -> str:
    with tracking.tracked_run("score", name, "demo", {"a": 1}, profile="demo") as run:
        run.log_metrics({"psnr": 30.0}, step=1)
        if image:
            run.log_image(np.full((4, 4, 3), 0.5, np.float32), "sample")
    return run.run_id


def _runs(repo: Path, journal_id: str) -> list:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{repo / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("denoisebench").experiment_id
    return client.search_runs([experiment], filter_string=f"tags.{JOURNAL_TAG} = '{journal_id}'")


KILL_REPLAY = textwrap.dedent('''
    import os, signal
    from mlflow.tracking import MlflowClient
    from denoisebench import tracking

    def killed(self, *args, **kwargs):
        os.kill(os.getpid(), signal.SIGKILL)  # mid-replay: the run exists, its metrics and end are not written

    MlflowClient.log_batch = killed
    tracking.flush_pending()
''')


def test_a_replay_killed_half_way_or_repeated_gives_one_run(repo: Path) -> None:
    journal_id = _journal("bm3d")
    killed = subprocess.run([sys.executable, "-c", KILL_REPLAY], env=os.environ.copy(), capture_output=True,
                            text=True, timeout=300, check=False)
    assert killed.returncode == -9, killed.stderr
    (half,) = _runs(repo, journal_id)  # the killed replay left a RUNNING run behind ...
    assert half.info.status == "RUNNING" and REPLAYED_TAG not in half.data.tags
    copy = repo / "journal-copy"
    shutil.copytree(journal_root(repo) / journal_id, copy)
    assert tracking.flush_pending() == 1
    (run,) = _runs(repo, journal_id)  # ... which the rerun replaced: one run, FINISHED
    assert run.info.status == "FINISHED" and run.data.tags[REPLAYED_TAG] == "1" and run.data.metrics["psnr"] == 30.0
    shutil.copytree(copy, journal_root(repo) / journal_id)  # killed after the replay, before the journal was deleted
    assert tracking.flush_pending() == 1
    assert [r.info.run_id for r in _runs(repo, journal_id)] == [run.info.run_id]
    assert not (journal_root(repo) / journal_id).exists()


def test_a_journal_with_a_missing_artifact_is_set_aside_and_blocks_nothing(
        repo: Path, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]) -> None:
    from denoisebench.cli import main

    broken, fine = _journal("bm3d"), _journal("tv")
    image = journal_root(repo) / broken / "files" / "images" / "sample.png"
    saved = image.read_bytes()
    image.unlink()
    with caplog.at_level(logging.WARNING, logger="denoisebench"):
        assert tracking.flush_pending() == 1  # the other journal is replayed
        assert tracking.flush_pending() == 0  # and a second flush does not fail again
    (warning,) = [r.getMessage() for r in caplog.records if broken in r.getMessage()]
    assert "artifact file files/images/sample.png of the journal is missing" in warning
    assert f"denoisebench tracking retry {broken}" in warning and "\n" not in warning
    assert _runs(repo, broken) == [] and len(_runs(repo, fine)) == 1  # no RUNNING run left per try
    assert main(["tracking", "list"]) == 0
    listed = capsys.readouterr().out
    assert broken in listed and "missing" in listed and "tracking retry" in listed
    (failed_root(journal_root(repo)) / broken / "files" / "images" / "sample.png").write_bytes(saved)
    assert main(["tracking", "retry", broken]) == 0
    (run,) = _runs(repo, broken)
    assert run.info.status == "FINISHED"
    assert main(["tracking", "drop", broken]) == 2  # nothing set aside any more: one error line
    assert capsys.readouterr().err.startswith(f"error: no set-aside MLflow journal '{broken}'")


def test_a_damaged_store_leaves_the_journal_waiting(repo: Path, caplog: pytest.LogCaptureFixture) -> None:
    journal_id = _journal("bm3d", image=False)
    (repo / "mlflow.db").write_bytes(b"this is not a database" * 100)
    with caplog.at_level(logging.WARNING, logger="denoisebench"):
        assert tracking.flush_pending() == 0
    assert any("cannot be opened" in r.getMessage() and "tracking flush" in r.getMessage() for r in caplog.records)
    assert (journal_root(repo) / journal_id).is_dir()

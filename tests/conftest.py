"""Shared fixtures: the offline data mirror and a quiet, offline environment for every test."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("DENOISEBENCH_MIRROR", REPO_ROOT.parent / "shared" / "data")).resolve()

os.environ.setdefault("DVC_NO_ANALYTICS", "1")
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("MPLBACKEND", "Agg")


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The offline mirror of the public datasets (``../shared/data`` beside the checkout)."""
    if not (SHARED_DATA / "checksums.sha256").is_file():
        pytest.fail(f"the data mirror {SHARED_DATA} is missing; set DENOISEBENCH_MIRROR to a copy of shared/data")
    return SHARED_DATA


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT

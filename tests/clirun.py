"""Run the ``denoisebench`` command or a stage script as a user does: a subprocess, its exit status and stderr."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]


def run(args: list[str], cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """``python <args>`` in ``cwd`` with this checkout's sources first on the path."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO_ROOT / "src"), os.environ.get("PYTHONPATH", "")]),
           "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=timeout, check=False)


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """``denoisebench <args>``."""
    return run(["-m", "denoisebench.cli", *args], cwd)


def stage(name: str, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """``python stages/<name>.py <args>`` of this checkout, run from ``cwd``."""
    return run([str(REPO_ROOT / "stages" / f"{name}.py"), *args], cwd)


def assert_clean_failure(proc: subprocess.CompletedProcess[str], *needles: str) -> None:
    """Non-zero exit, no traceback, and every needle in stderr."""
    assert proc.returncode != 0, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    for needle in needles:
        assert needle in proc.stderr, proc.stderr

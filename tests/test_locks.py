"""One worker per entry (issue 24, item 2): an orphaned or concurrent worker of the same entry is detected.

Before: killing only `dvc` left its training worker running; the next `dvc repro` started a second worker on the same
entry and both wrote the same resume state and curve. Now the trainer holds an exclusive flock per entry inside the
resume store: a newcomer waits for the holder (naming its PID) or, with ``$DENOISEBENCH_LOCK_WAIT=0``, stops naming
it; a killed holder's lock is released by the kernel.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from denoisebench.locks import LockBusyError, exclusive, holder_pid

WORKER = textwrap.dedent('''
    """A tiny training worker of entry `tiny` (resume store STORE), logging `<pid> <step> <start|end>` per step."""
    import os, sys, time
    from pathlib import Path

    import numpy as np
    import torch

    from denoisebench.models import build_model
    from denoisebench.training import TrainConfig, train_model
    from denoisebench.training.trainer import resume_store

    torch.set_num_threads(1)
    log, store, out, pause = Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3]), float(sys.argv[4])


    class Noise:
        params = {"name": "awgn", "sigma": 25}

        def apply(self, img, rng):
            return img + np.float32(0.1) * rng.standard_normal(img.shape, dtype=np.float32)


    def step_log(step, logs):
        with open(log, "a") as fh:
            fh.write(f"{os.getpid()} {step} {time.monotonic():.3f}\\n")
        gate = log.with_name("go")
        if pause < 0:  # hold the lock after step 1 until the test opens the gate
            deadline = time.monotonic() + 120
            while step == 1 and not gate.exists() and time.monotonic() < deadline:
                time.sleep(0.05)
        else:
            time.sleep(pause)


    images = [np.random.default_rng(0).uniform(0, 1, (24, 24, 1)).astype(np.float32)]
    torch.manual_seed(0)
    model = build_model("dncnn", channels=1, depth=3, features=4)
    config = TrainConfig(batch_size=2, patch_size=8, log_every=1, progress=False, iterations=6, checkpoint_every=2)
    with resume_store(store):
        result = train_model(model, images, Noise(), config, out, callbacks=[step_log])
    print("steps", result.steps, "resumed_from", result.resumed_from, flush=True)
''')


def _spawn(tmp_path: Path, pause: float, env: dict[str, str] | None = None, orphan: bool = False,
           stderr: Path | None = None) -> subprocess.Popen | int:
    """Start a worker (``pause`` < 0: it holds the lock after step 1 until ``go`` exists); ``orphan``: through a
    shell that exits at once (the worker is reparented, as after a killed `dvc`), returning the worker's PID;
    ``stderr``: a file for its stderr (read while it runs)."""
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    args = [sys.executable, str(script), str(tmp_path / "steps.log"), str(tmp_path / "store"),
            str(tmp_path / "models" / "tiny"), str(pause)]
    full_env = {**os.environ, **(env or {})}
    if not orphan:
        err = open(stderr, "w") if stderr else subprocess.PIPE  # noqa: SIM115 - the child owns it
        return subprocess.Popen(args, env=full_env, stdout=subprocess.PIPE, stderr=err, text=True)
    shell = subprocess.run(["sh", "-c", " ".join(f"'{a}'" for a in args) + " >/dev/null 2>&1 & echo $!"],
                           env=full_env, capture_output=True, text=True, check=True)
    return int(shell.stdout.strip())


def _steps(tmp_path: Path) -> list[tuple[int, int, float]]:
    path = tmp_path / "steps.log"
    if not path.is_file():
        return []
    return [(int(p), int(s), float(t)) for p, s, t in (line.split() for line in path.read_text().splitlines())]


def _wait_for_steps(tmp_path: Path, count: int, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while len(_steps(tmp_path)) < count:
        assert time.monotonic() < deadline, "the worker did not start training"
        time.sleep(0.1)


def _alive(pid: int) -> bool:
    """Running (a zombie waiting for its new parent to reap it counts as dead: its descriptors are closed)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_a_newcomer_names_a_live_orphan_and_a_killed_holder_never_blocks(tmp_path: Path) -> None:
    orphan = _spawn(tmp_path, pause=30.0, orphan=True)
    try:
        _wait_for_steps(tmp_path, 1)
        newcomer = _spawn(tmp_path, pause=0.0, env={"DENOISEBENCH_LOCK_WAIT": "0"})
        _, err = newcomer.communicate(timeout=120)
        assert newcomer.returncode != 0
        assert f"training entry tiny: process {orphan} is already doing it" in err
        assert {pid for pid, _, _ in _steps(tmp_path)} == {orphan}  # the newcomer trained nothing
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(orphan, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while _alive(orphan) and time.monotonic() < deadline:
        time.sleep(0.05)
    # the orphan died holding the lock: the kernel released it, the next worker resumes at once
    after = _spawn(tmp_path, pause=0.0, env={"DENOISEBENCH_LOCK_WAIT": "0"})
    out, err = after.communicate(timeout=120)
    assert after.returncode == 0, err
    assert "steps 6" in out


def test_two_concurrent_workers_of_one_config_never_write_together(tmp_path: Path) -> None:
    first = _spawn(tmp_path, pause=-1)  # holds the lock after its first step until the gate file appears
    _wait_for_steps(tmp_path, 1)
    err_file = tmp_path / "second.err"
    second = _spawn(tmp_path, pause=0.0, stderr=err_file)
    deadline = time.monotonic() + 120
    while ("waiting for it to finish" not in err_file.read_text() and second.poll() is None
           and time.monotonic() < deadline):
        time.sleep(0.2)
    (tmp_path / "go").touch()
    _, err1 = first.communicate(timeout=120)
    out2, _ = second.communicate(timeout=120)
    err2 = err_file.read_text()
    assert first.returncode == 0 and second.returncode == 0, err1 + err2
    assert f"process {first.pid} holds lock" in err2 and "waiting for it to finish" in err2
    rows = _steps(tmp_path)
    assert [s for pid, s, _ in rows if pid == first.pid] == [1, 2, 3, 4, 5, 6]
    assert all(pid == first.pid for pid, _, _ in rows)  # the second found the entry finished: no step twice
    assert "steps 6 resumed_from 6" in out2


def test_lock_records_its_holder_and_stops_a_newcomer(tmp_path: Path) -> None:
    lock = tmp_path / "x.lock"
    with exclusive(lock, "job x"):
        assert holder_pid(lock) == os.getpid()
        busy = pytest.raises(LockBusyError, match=rf"job x: process {os.getpid()} is already doing it")
        with busy, exclusive(lock, "job x", wait_s=0):  # a second descriptor of this process is a newcomer too
            pass
    with exclusive(lock, "job x", wait_s=0):  # released on exit
        pass

"""Exclusive, crash-safe locks: one writer per resource (e.g. one training worker per entry's resume state).

A lock is an exclusive ``fcntl.flock`` on a lock file. The kernel releases it when the holding process exits, however
it exits (kill -9 included), so a dead holder never blocks anyone; a live one (an orphaned stage left by a killed
``dvc``, a concurrent queue worker) is detected. The holder writes its PID into the file so a newcomer can name it.
Lock files are never deleted (deleting a locked file would let a third process lock a new file of the same name).

A newcomer waits for the holder (printing one line naming its PID, then one a minute) or, with
``$DENOISEBENCH_LOCK_WAIT`` seconds elapsed (``0``: do not wait), stops with a :class:`LockBusyError` naming it.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import time
from collections.abc import Iterator
from pathlib import Path

from denoisebench.errors import DenoiseBenchError

LOG = logging.getLogger("denoisebench")

#: Env var: how many seconds a newcomer waits for a busy lock before it stops (unset: wait as long as it takes).
WAIT_ENV = "DENOISEBENCH_LOCK_WAIT"


class LockBusyError(DenoiseBenchError):
    """Another live process holds the lock (the message names its PID and what it does)."""


def holder_pid(path: Path) -> int | None:
    """The PID recorded by the lock's (last) holder, or None."""
    try:
        text = path.read_text(encoding="utf-8").split()
        return int(text[0]) if text else None
    except (OSError, ValueError):
        return None


def wait_limit() -> float | None:
    """Seconds to wait for a busy lock (``$DENOISEBENCH_LOCK_WAIT``; None: no limit)."""
    raw = os.environ.get(WAIT_ENV, "").strip()
    if not raw:
        return None
    try:
        value = float(raw)
    except ValueError as exc:
        raise LockBusyError(f"${WAIT_ENV}={raw!r}: expected a number of seconds (0: stop at once)") from exc
    return max(value, 0.0)


@contextlib.contextmanager
def exclusive(path: str | os.PathLike[str], what: str, *, wait_s: float | None = -1.0,
              poll_s: float = 1.0) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` for the block (see module doc).

    Args:
        path: the lock file (created, with its folder, when missing).
        what: what the lock protects, for messages ("training entry dncnn").
        wait_s: seconds to wait for a busy lock; None waits forever; the default (-1) reads :func:`wait_limit`.
        poll_s: how often a waiting newcomer retries.

    Raises:
        LockBusyError: the lock stayed busy for ``wait_s`` seconds (the message names the holder's PID).
    """
    lock = Path(path)
    lock.parent.mkdir(parents=True, exist_ok=True)
    limit = wait_limit() if wait_s is not None and wait_s < 0 else wait_s
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        _acquire(fd, lock, what, limit, poll_s)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the flock


def _acquire(fd: int, lock: Path, what: str, limit: float | None, poll_s: float) -> None:
    start = last_said = time.monotonic()
    said = False
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            if said:
                LOG.warning("%s: lock %s is free now; going on", what, lock)
            return
        except BlockingIOError:
            pass
        pid = holder_pid(lock)
        who = f"process {pid}" if pid else "another process"
        waited = time.monotonic() - start
        if limit is not None and waited >= limit:
            raise LockBusyError(f"{what}: {who} is already doing it (lock {lock}); wait for it to finish or stop it "
                                f"(kill {pid or 'PID'}); ${WAIT_ENV} sets how long to wait (unset: as long as it takes)")
        if not said or time.monotonic() - last_said >= 60:
            LOG.warning("%s: %s holds lock %s; waiting for it to finish (stop it with kill %s)", what, who, lock,
                        pid or "PID")
            said, last_said = True, time.monotonic()
        time.sleep(poll_s)

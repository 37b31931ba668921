"""Filesystem helpers: atomic writes so that nothing half-written ever looks complete."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Iterator

_UMASK = os.umask(0)
os.umask(_UMASK)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` only if the block succeeds.

    The temporary name keeps the suffix of ``path`` so writers that infer a format from it still work.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.stem}.", suffix=f".tmp{target.suffix}", dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp creates 0600; give the final file the usual permissions
    try:
        yield tmp
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            tmp.unlink()


def write_bytes_atomic(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def write_text_atomic(path: str | os.PathLike[str], text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    write_bytes_atomic(path, text.encode("utf-8"))


def write_json_atomic(path: str | os.PathLike[str], obj: Any) -> None:
    """Write ``obj`` as indented, key-sorted JSON to ``path`` atomically."""
    write_text_atomic(path, json.dumps(obj, indent=2, sort_keys=True, default=_json_default) + "\n")


def _json_default(obj: Any) -> Any:
    if hasattr(obj, "item"):  # numpy scalars
        return obj.item()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"cannot serialise {type(obj).__name__} to JSON")


def sha256_file(path: str | os.PathLike[str], chunk_size: int = 1 << 20) -> str:
    """Hex sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(chunk_size), b""):
            digest.update(chunk)
    return digest.hexdigest()


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike[str], *, replace: bool = False, last: tuple[str, ...] = ()) -> Iterator[Path]:
    """Yield a fresh temporary folder beside ``path``; publish it onto ``path`` only if the block succeeds.

    A failed block leaves ``path`` as it was (nothing half-written appears there). On success:

    - ``path`` absent (or an empty folder): the temporary folder is renamed onto it (one atomic rename);
    - ``replace=True``: the old folder is renamed aside, the new one renamed into place, then the old one deleted;
    - otherwise the new entries are moved into the existing folder one by one (each an atomic rename, replacing a
      same-named file), entries named in ``last`` (e.g. ``manifest.json``) after all the others, so a folder with
      its completion marker is a complete folder. Other files already in ``path`` are kept.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    os.chmod(tmp, 0o777 & ~_UMASK)  # mkdtemp creates 0700; give the final folder the usual permissions
    try:
        yield tmp
        _publish_dir(tmp, target, replace, last)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)


def _publish_dir(tmp: Path, target: Path, replace: bool, last: tuple[str, ...]) -> None:
    if target.is_dir() and not any(target.iterdir()):
        target.rmdir()
    if not target.exists():
        os.replace(tmp, target)
        return
    if replace:
        old = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".old", dir=target.parent))
        os.replace(target, old / target.name)
        os.replace(tmp, target)
        shutil.rmtree(old)
        return
    entries = sorted(tmp.iterdir(), key=lambda p: (p.name in last, p.name))
    for entry in entries:
        dest = target / entry.name
        if entry.is_dir() and dest.is_dir():
            _publish_dir(entry, dest, False, last)
            continue
        if dest.is_dir():
            shutil.rmtree(dest)
        os.replace(entry, dest)

"""Fingerprints of what a stage's per-entry results are a function of, so a stage over every entry redoes only the
entries whose inputs changed (the `train`, `predict` and `score` stages: DVC reruns the stage, these decide per
entry)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path
from typing import Any

from denoisebench.config import Cell

#: The installed package's folder: core sources are digested here.
PACKAGE = Path(__file__).resolve().parent


def file_listing(root: Path, mtimes: bool = True) -> list[tuple[str, int, int] | tuple[str, int]]:
    """``(relative path, size, mtime_ns)`` of every file under ``root``, sorted (cheap: no file is read); without
    ``mtimes`` only names and sizes (a checkout or a fresh download of the same files gives the same listing)."""
    if not root.is_dir():
        return []
    files = (p for p in root.rglob("*") if p.is_file())
    return sorted((p.relative_to(root).as_posix(), p.stat().st_size, *((p.stat().st_mtime_ns,) if mtimes else ()))
                  for p in files)


def file_digest(path: Path) -> str | None:
    """sha256 of a file's content (None when it does not exist)."""
    if not path.is_file():
        return None
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@lru_cache(maxsize=None)
def source_digest(path: Path) -> str | None:
    """sha256 over the ``.py`` files of a source file or folder (names and contents; None when missing). Cached:
    a stage digests each source once however many entries share it."""
    if path.is_file():
        return file_digest(path)
    if not path.is_dir():
        return None
    digest = hashlib.sha256()
    for file in sorted(path.rglob("*.py")):
        digest.update(file.relative_to(path).as_posix().encode())
        digest.update(file.read_bytes())
    return digest.hexdigest()


def package_source(relative: str) -> Path:
    """A source named relative to ``src/denoisebench`` (an entry's ``code``): the installed package's copy, else
    the working tree's (a paper folder found through ``DENOISEBENCH_PAPER_PATH``)."""
    installed = PACKAGE / relative
    return installed if installed.exists() else Path("src") / "denoisebench" / relative


def sources_digest(relatives: Iterable[str]) -> dict[str, str | None]:
    """:func:`source_digest` of each source named relative to ``src/denoisebench``."""
    return {name: source_digest(package_source(name)) for name in relatives}


def manifest_digests(cells: list[Cell], noisy: Path) -> dict[str, str | None]:
    """sha256 of each cell's ``manifest.json`` (None where it is missing); read once per stage run."""
    return {cell.key: file_digest(noisy / cell.testset / cell.label / "manifest.json") for cell in cells}


def digest_state(state: dict[str, Any]) -> str:
    """sha256 of a JSON-able description of an entry's inputs."""
    return hashlib.sha256(json.dumps(state, sort_keys=True, default=str).encode()).hexdigest()


def write_fingerprint(path: Path, entry: str, fingerprint: str) -> None:
    """Record that ``entry``'s results at ``path``'s folder were made for ``fingerprint`` (atomic write)."""
    from denoisebench.fsutil import write_json_atomic

    write_json_atomic(path, {"entry": entry, "fingerprint": fingerprint})


def recorded_fingerprint(path: Path) -> str | None:
    """The ``fingerprint`` field of a JSON file (None when missing or unreadable)."""
    try:
        return json.loads(path.read_text(encoding="utf-8")).get("fingerprint")
    except (OSError, ValueError, AttributeError):
        return None

"""Content digests of what an entry reads, shared by the steps' :meth:`~.runner.EntryStep.inputs`."""

from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path
from typing import Any

from denoisebench.config import Cell, MethodEntry
from denoisebench.pipeline.record import RECORD_FILE, read_record


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
def folder_digest(path: Path) -> str | None:
    """sha256 over every file under ``path`` (relative names and contents); None when it is not a folder. Cached:
    one stage run digests each folder once however many entries read it."""
    if not path.is_dir():
        return None
    digest = hashlib.sha256()
    for file in sorted(p for p in path.rglob("*") if p.is_file()):
        digest.update(file.relative_to(path).as_posix().encode())
        digest.update(file_digest(file).encode())
    return digest.hexdigest()


def manifest_digests(cells: list[Cell], noisy: Path) -> dict[str, str | None]:
    """sha256 of each cell's ``manifest.json`` (the noisy images are a pure function of it; None where missing)."""
    return {cell.key: file_digest(noisy / cell.testset / cell.label / "manifest.json") for cell in cells}


def entry_spec(entry: MethodEntry) -> list[Any]:
    """The part of a params entry that defines it: method, config, evaluation filter."""
    return [entry.method, entry.config, list(entry.evaluate_on) if entry.evaluate_on is not None else None]


def own_paper(entry: MethodEntry) -> str | None:
    """The paper package (module name) of an entry whose ``code`` is a paper folder (``papers/<folder>``)."""
    code = (entry.code or "").strip("/")
    parts = code.split("/")
    return f"denoisebench.papers.{parts[1]}" if len(parts) >= 2 and parts[0] == "papers" else None


def upstream_outputs(folder: Path) -> str | None:
    """Digest of the outputs an upstream stage recorded for an entry (its record's output digests: content, not
    modification times), or of the folder's files when it has no record; None when there is nothing."""
    record = read_record(folder / RECORD_FILE)
    if record is not None:
        return hashlib.sha256(repr(sorted(record.outputs.items())).encode()).hexdigest()
    return folder_digest(folder)


def model_digest(model_dir: Path) -> str | None:
    """The trained model's tensor digest recorded by the train stage (identical tensors in a re-saved file give
    the same digest), else the file's sha256, else None."""
    record = read_record(model_dir / RECORD_FILE)
    if record is not None and record.extra.get("tensors"):
        return record.extra["tensors"]
    return file_digest(model_dir / "model.pt")

"""An entry's build record: what its outputs were made from and what they contain.

``record.json`` sits in the entry's first output folder. It holds the entry's declared inputs (config, schedule,
params, upstream content digests, force token), the project modules its work ran through with their source
digests (:mod:`.depfile`), the sha256 of every output file, anything the work reported (``extra``, e.g. a model's
tensor digest) and the git revision of the code that made it. An entry is current when all four still hold:
nothing is compared by modification time, so a checkout or ``dvc pull`` of identical files rebuilds nothing.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from denoisebench.fsutil import sha256_file, write_json_atomic

RECORD_FILE = "record.json"
RECORD_FORMAT = 1


@dataclass
class Record:
    """One entry's build record (see the module docstring)."""

    entry: str
    stage: str
    inputs: dict[str, Any]
    modules: dict[str, str] = field(default_factory=dict)
    outputs: dict[str, str] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    revision: str = "unknown"
    format: int = RECORD_FORMAT

    def write(self, path: Path) -> None:
        """Write atomically."""
        write_json_atomic(path, asdict(self))


def read_record(path: Path) -> Record | None:
    """The record at ``path`` (None when missing, unreadable or of another format)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("format") != RECORD_FORMAT:
            return None
        return Record(**data)
    except (OSError, ValueError, TypeError, AttributeError):
        return None


def canonical(value: Any) -> Any:
    """``value`` as plain JSON types (tuples as lists, keys as strings), so recorded and current inputs compare."""
    return json.loads(json.dumps(value, sort_keys=True, default=str))


def digest(value: Any) -> str:
    """sha256 of a JSON-able value."""
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()


def tree_digests(paths: dict[Path, Path], skip: tuple[str, ...] = (RECORD_FILE,)) -> dict[str, str]:
    """``{published path: sha256}`` of every file under each staged or published path (``{where it is now: where
    it is published}``), skipping files named in ``skip``."""
    out: dict[str, str] = {}
    for current, published in paths.items():
        if current.is_file():
            out[published.as_posix()] = sha256_file(current)
        elif current.is_dir():
            for file in sorted(p for p in current.rglob("*") if p.is_file() and p.name not in skip):
                out[(published / file.relative_to(current)).as_posix()] = sha256_file(file)
    return dict(sorted(out.items()))


def changed_inputs(recorded: dict[str, Any], current: dict[str, Any], prefix: str = "") -> list[str]:
    """Dotted names of the inputs that differ (one level into nested mappings, so a reason names e.g.
    ``schedule.lr`` rather than the whole schedule)."""
    changed = []
    for key in sorted(set(recorded) | set(current)):
        old, new = recorded.get(key), current.get(key)
        if old == new:
            continue
        if isinstance(old, dict) and isinstance(new, dict) and not prefix:
            changed += changed_inputs(old, new, f"{key}.")
        else:
            changed.append(prefix + key)
    return changed

"""Inputs are sacred: what a CLI command may write, checked before anything is read or written.

- An output that is, contains or lies inside an input is refused (:func:`check_apart`).
- A file the benchmark did not create is never replaced: every folder a command writes into keeps the names it
  wrote in ``.denoisebench-outputs.json``; an existing file not listed there is refused unless ``--overwrite``
  (:func:`check_replaceable`, :func:`remember`).
- An output suffix must be one the writer writes in that format (:func:`check_suffix`): ``--suffix .txt`` wrote PNG
  bytes named ``.txt``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path

from denoisebench.errors import ConfigError
from denoisebench.fsutil import write_json_atomic
from denoisebench.imageio import WRITE_FORMATS

RECORD = ".denoisebench-outputs.json"


def _resolved(path: Path) -> Path:
    return Path(os.path.realpath(path))


def _within(inner: Path, outer: Path) -> bool:
    return inner == outer or outer in inner.parents


def check_apart(inputs: Iterable[tuple[str, Path]], outputs: Iterable[tuple[str, Path]]) -> None:
    """Refuse an output (``(flag, path)``) that is, contains or lies inside an input (``(flag, path)``); paths are
    compared after resolving links, so ``d`` and ``./d/../d`` or a symlink to ``d`` are one folder."""
    for out_flag, out in outputs:
        target = _resolved(out)
        for in_flag, source in inputs:
            src = _resolved(source)
            if _within(target, src) or _within(src, target) or (target.exists() and src.exists()
                                                                 and os.path.samefile(target, src)):
                how = ("is" if target == src else "lies inside" if _within(target, src) else "contains")
                raise ConfigError(f"{out_flag} {out} {how} {in_flag} {source}; inputs are never written to: give an "
                                  f"{out_flag} outside the input")


def check_suffix(flag: str, suffix: str) -> str:
    """``suffix`` (lower case) when the image writer writes that format, else an error listing the valid ones."""
    if suffix.lower() not in WRITE_FORMATS:
        raise ConfigError(f"{flag} {suffix!r}: not an image format written here; use one of "
                          f"{', '.join(WRITE_FORMATS)} (.png: 8-bit lossless, .npy: float32)")
    return suffix.lower()


def _recorded(folder: Path) -> set[str]:
    try:
        return set(json.loads((folder / RECORD).read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError):
        return set()


def check_replaceable(files: Iterable[Path], overwrite: bool, flag: str = "--output") -> None:
    """Refuse to replace an existing file that no denoisebench command wrote (unless ``overwrite``), or a folder."""
    for file in files:
        if file.is_dir():
            raise ConfigError(f"{flag}: {file} is a folder; the output {file.name} would replace it: give another "
                              f"{flag}")
        if file.exists() and not overwrite and file.name not in _recorded(file.parent):
            raise ConfigError(f"{flag}: {file} exists and was not written by denoisebench; it is never replaced: "
                              f"give another {flag}, or pass --overwrite to replace it")


def check_folder_output(flag: str, folder: Path) -> None:
    """A folder output must not be an existing file."""
    if folder.exists() and not folder.is_dir():
        raise ConfigError(f"{flag} {folder}: an existing file, but the input is a folder; give a folder path "
                          "(created when missing)")


def remember(folder: Path, names: Iterable[str]) -> None:
    """Record ``names`` as written by denoisebench in ``folder`` (so a rerun may replace them)."""
    write_json_atomic(folder / RECORD, sorted(_recorded(folder) | set(names)))

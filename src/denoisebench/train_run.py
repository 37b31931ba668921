"""The `train` stage over every trained entry: retraining only the entries whose inputs changed.

One stage trains all entries of ``methods.learned`` and then ``methods.cascade`` (a cascade entry starts from
another entry's model, so it comes after the learned ones). With one stage per entry, DVC's own work per stage
(reading ``params.yaml``, parsing and rewriting ``dvc.lock``) dominated the demo, and a no-op ``dvc repro`` spent
seconds checking 45 stages. It stays incremental: ``models/<entry>/fingerprint.json`` records a fingerprint of what
the entry's model is a function of (its method, config and ``evaluate_on``, its ``train.<entry>.<profile>``
schedule without ``nproc``, whether the profile runs it, the raw data's file names and sizes, the content of its
``init_checkpoint``, and the sources: the core training, model, method and noise code, the stage script and the
entry's own ``code``), and an entry whose fingerprint is unchanged and whose model (or ``not_trained.json``) is
there is not trained again. So ``dvc exp run -S train.dncnn_color_blind.paper.lr=...`` reruns the stage, which
retrains that entry only.

Each entry that trains runs as its own process (``stages/train.py --entry E``: the torchrun relaunch, GPU claims
and the resume store work exactly as for one entry); its fingerprint is written after it succeeded, so an
interrupted stage resumes the interrupted entry from its checkpoint and skips the finished ones.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from denoisebench.config import TRAINED_GROUPS, active_profile, method_entries, method_entry, not_run_reason
from denoisebench.fingerprint import (
    digest_state, file_digest, recorded_fingerprint, source_digest, sources_digest, write_fingerprint,
)

#: Sources (relative to ``src/denoisebench``) every trained entry depends on; the entry's ``code`` is added.
TRAINING_SOURCES = ("training", "models", "methods", "noise")
#: Written into ``models/<entry>/`` after the entry trained (or was recorded as not run).
FINGERPRINT_FILE = "fingerprint.json"
#: Schedule keys that do not change the trained model (DDP on N processes equals one process).
NEUTRAL_SCHEDULE_KEYS = ("nproc",)


@dataclass(frozen=True)
class TrainPaths:
    """Where the stage reads and writes."""

    data: Path
    models: Path
    curves: Path
    script: Path


def trained_entries(params: dict[str, Any]) -> list[str]:
    """The entries of ``methods.learned`` then ``methods.cascade``, in params order."""
    groups = method_entries(params)
    return [name for group in TRAINED_GROUPS for name, g in groups.items() if g == group]


def train_fingerprint(params: dict[str, Any], entry: str, data_digest: str, paths: TrainPaths) -> str:
    """sha256 of everything the entry's model is a function of (see the module docstring); ``data_digest`` is
    :func:`~denoisebench.fingerprint.digest_state` of the raw data's names and sizes (computed once per run)."""
    spec = method_entry(params, entry)
    profile = active_profile(params)
    schedule = (params.get("train") or {}).get(entry) or {}
    schedule = schedule.get(profile) if isinstance(schedule, dict) else schedule
    if isinstance(schedule, dict):
        schedule = {k: v for k, v in schedule.items() if k not in NEUTRAL_SCHEDULE_KEYS}
    init = spec.config.get("init_checkpoint")
    return digest_state({
        "entry": [spec.method, spec.config, spec.evaluate_on], "profile": profile, "schedule": schedule,
        "not_run": not_run_reason(params, entry), "data": data_digest,
        "init_checkpoint": file_digest(Path(init)) if init else None,
        "code": sources_digest(TRAINING_SOURCES + ((spec.code,) if spec.code else ())),
        "script": source_digest(paths.script),
    })


def is_current(entry: str, fingerprint: str, paths: TrainPaths) -> bool:
    """True when the entry's model (or its not-trained record) and curve were written for ``fingerprint``."""
    folder = paths.models / entry
    finished = (folder / "model.pt").is_file() or (folder / "not_trained.json").is_file()
    return (finished and (paths.curves / f"{entry}.csv").is_file()
            and recorded_fingerprint(folder / FINGERPRINT_FILE) == fingerprint)


def record_fingerprint(entry: str, fingerprint: str, paths: TrainPaths) -> None:
    """Mark the entry as trained for ``fingerprint`` (after its training succeeded)."""
    write_fingerprint(paths.models / entry / FINGERPRINT_FILE, entry, fingerprint)


def remove_stale(entries: set[str], paths: TrainPaths) -> list[str]:
    """Delete the models and curves of entries no longer trained by params.yaml (the outputs persist across runs);
    return their names."""
    stale = {p.name for p in paths.models.iterdir() if p.is_dir()} if paths.models.is_dir() else set()
    stale |= {p.stem for p in paths.curves.glob("*.csv")} if paths.curves.is_dir() else set()
    stale -= entries
    for name in sorted(stale):
        shutil.rmtree(paths.models / name, ignore_errors=True)
        (paths.curves / f"{name}.csv").unlink(missing_ok=True)
    return sorted(stale)

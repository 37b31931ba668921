"""The `predict` stage over every method entry: re-predicting only the entries whose inputs changed.

One stage predicts all entries: one process imports torch and the methods once, and DVC handles one stage instead
of one per entry (with 60 entries DVC's own per-stage work was most of the demo's time). It stays incremental:
``results/predictions/<entry>/fingerprint.json`` records a fingerprint of what the entry's predictions are a
function of (its method, config and evaluation filter, whether the profile runs it, the profile's test cells and
their manifests, the ``predict`` params, the trained model's content, and the sources: the core prediction and
method code and the entry's own ``code``), and an entry whose fingerprint is unchanged keeps its predictions. So
``dvc exp run -S methods.classical.bm3d.<key>=...`` reruns the stage, which re-predicts bm3d only.

Each entry is written to a temporary folder and renamed into place when complete: an interrupted run leaves the
entries it finished (kept by the next run) and no half-written one.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from denoisebench.config import Cell, MethodEntry, active_profile, not_run_reason, section
from denoisebench.fingerprint import (
    digest_state, file_digest, recorded_fingerprint, sources_digest, write_fingerprint,
)
from denoisebench.fsutil import atomic_dir

#: Sources (relative to ``src/denoisebench``) every entry's predictions depend on; the entry's ``code`` is added.
PREDICTION_SOURCES = ("prediction.py", "predict_run.py", "imageio.py", "methods", "models")
#: Written last into an entry's prediction folder: what the predictions were made from.
FINGERPRINT_FILE = "fingerprint.json"
#: Method kinds that never touch torch: their device is not resolved (resolving "auto" imports torch).
CPU_ONLY_KINDS = ("identity", "classical")


@dataclass(frozen=True)
class PredictPaths:
    """Where the stage reads and writes."""

    noisy: Path
    models: Path
    out: Path


def predict_fingerprint(params: dict[str, Any], entry: MethodEntry, manifests: dict[str, str | None],
                        paths: PredictPaths) -> str:
    """sha256 of everything the entry's predictions are a function of (see the module docstring); ``manifests``
    from :func:`denoisebench.fingerprint.manifest_digests`."""
    profile = active_profile(params)
    return digest_state({
        "entry": [entry.method, entry.config, entry.evaluate_on],
        "not_run": not_run_reason(params, entry.entry),
        "profile": profile,
        "evaluation": section(params, "evaluation", profile),
        "predict": params.get("predict"),
        "manifests": manifests,
        "model": file_digest(paths.models / entry.entry / "model.pt"),
        "code": sources_digest(PREDICTION_SOURCES + ((entry.code,) if entry.code else ())),
    })


def is_current(entry: str, fingerprint: str, paths: PredictPaths) -> bool:
    """True when the entry's predictions were completed for ``fingerprint``."""
    root = paths.out / entry
    return (root / "skipped.json").is_file() and recorded_fingerprint(root / FINGERPRINT_FILE) == fingerprint


def remove_stale(entries: set[str], out: Path) -> list[str]:
    """Delete prediction folders of entries no longer in params.yaml, and temporary folders an interrupted run left
    (the output persists across runs); return their names."""
    stale = sorted(p.name for p in out.iterdir() if p.is_dir() and p.name not in entries) if out.is_dir() else []
    for name in stale:
        shutil.rmtree(out / name)
    return stale


@dataclass(frozen=True)
class EntryOutcome:
    """What predicting one entry did: the cells run (with their timings) and a line for the log."""

    results: list[Any]
    message: str


def predict_one(params: dict[str, Any], entry: MethodEntry, cells: list[Cell], paths: PredictPaths,
                out_root: Path, device: Callable[[], str]) -> EntryOutcome:
    """Predict one entry into ``out_root``: every applicable cell, ``skipped.json`` for the others (all of them,
    with the reason, when the profile does not run the entry). ``device`` resolves the torch device (once)."""
    from denoisebench.methods import METHODS
    from denoisebench.prediction import EntryPlan, plan_entry, predict_entry, write_skipped
    from denoisebench.stage_support import build_entry_method

    skipped = not_run_reason(params, entry.entry)
    if skipped:  # nothing is built or loaded: every cell is recorded as skipped with the reason
        write_skipped(out_root, EntryPlan([], {cell.key: skipped for cell in cells}))
        return EntryOutcome([], f"{entry.entry}: {skipped}; nothing predicted")
    kind = METHODS.get(entry.method).kind  # the class only: building a learned method builds its network (torch)
    # A cheap method is built (its config checked) first, so a bad config is reported before missing data; a
    # learned one after the plan (its config was checked by its train stage, and building it imports torch).
    method = build_entry_method(params, entry) if kind in CPU_ONLY_KINDS else None
    plan = plan_entry(entry, kind, cells, paths.noisy)
    if not plan.run:  # before torch and the checkpoint: nothing of this profile applies
        write_skipped(out_root, plan)
        return EntryOutcome([], f"{entry.entry}: no test cell of profile {active_profile(params)} applies "
                                f"({len(plan.skipped)} skipped); nothing to predict")
    method = method or build_entry_method(params, entry)
    if method.needs_training:
        method.load(paths.models / entry.entry / "model.pt")
    results = predict_entry(method, entry, cells, paths.noisy, out_root,
                            "cpu" if kind in CPU_ONLY_KINDS else device(), plan)
    return EntryOutcome(results, f"{entry.entry}: {sum(r.n_images for r in results)} images in {len(results)} "
                                 f"cells, {sum(r.seconds for r in results):.1f} s")


def predict_and_publish(params: dict[str, Any], entry: MethodEntry, cells: list[Cell], paths: PredictPaths,
                        fingerprint: str, device: Callable[[], str]) -> EntryOutcome:
    """:func:`predict_one` into a temporary folder, then the fingerprint, then one rename onto
    ``<out>/<entry>`` (replacing the previous predictions)."""
    with atomic_dir(paths.out / entry.entry, replace=True) as tmp:
        outcome = predict_one(params, entry, cells, paths, tmp, device)
        write_fingerprint(tmp / FINGERPRINT_FILE, entry.entry, fingerprint)
    return outcome

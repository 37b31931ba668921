"""The `score` stage over every method entry: rescoring only what changed, one MLflow run per scored entry.

One stage scores all entries (one process instead of one per entry: the per-process start-up of pandas and MLflow
was most of the demo's scoring time). It stays incremental: each entry's ``results/scores/<entry>/meta.json``
records a fingerprint of everything its scores are a function of (the prediction files, the noisy cells' manifests,
the score/evaluation/synthesize params, the entry's config, the train summary, the scoring code), and an entry
whose fingerprint is unchanged keeps its results. ``dvc repro`` therefore reruns the stage when any prediction
changed, and the stage rescores only the entries whose predictions (or anything else above) changed.

The entry's MLflow run (tag ``stage=score``) carries what the predict stage measured too (seconds per image,
zero-shot iterations, one noisy/restored sample per cell, the cells as dataset inputs): the predict stage opens
no runs, so it never imports MLflow.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from denoisebench.config import (
    Cell, MethodEntry, active_profile, section, set_descriptions,
)
from denoisebench.fingerprint import (
    digest_state, file_listing, manifest_digests, recorded_fingerprint, sources_digest,
)

#: Modules of this package whose change rescores every entry.
SCORING_SOURCES = ("scoring.py", "metrics.py", "result_files.py", "score_run.py")


@dataclass(frozen=True)
class ScorePaths:
    """Where the stage reads and writes."""

    noisy: Path
    predictions: Path
    models: Path
    metrics: Path
    scores: Path


def score_fingerprint(params: dict[str, Any], entry: MethodEntry, manifests: dict[str, str | None],
                      paths: ScorePaths) -> str:
    """sha256 of everything the entry's results are a function of (see the module docstring); ``manifests`` from
    :func:`manifest_digests`."""
    summary = paths.models / entry.entry / "summary.json"
    state = {
        "predictions": file_listing(paths.predictions / entry.entry),
        "manifests": manifests,
        "params": {name: params.get(name) for name in ("profile", "evaluation", "score", "synthesize")},
        "entry": [entry.method, entry.config, entry.evaluate_on],
        "train_summary": summary.read_text() if summary.is_file() else None,
        "code": sources_digest(SCORING_SOURCES),
    }
    return digest_state(state)


def is_current(entry: str, fingerprint: str, paths: ScorePaths) -> bool:
    """True when the entry's three result files exist and were written for ``fingerprint``."""
    meta_path = paths.scores / entry / "meta.json"
    if not (meta_path.is_file() and (paths.scores / entry / "per_image.csv").is_file()
            and (paths.metrics / f"{entry}.json").is_file()):
        return False
    return recorded_fingerprint(meta_path) == fingerprint


def remove_stale(entries: set[str], paths: ScorePaths) -> list[str]:
    """Delete results of entries no longer in params.yaml (the outputs persist across runs); return their names."""
    import shutil

    stale = sorted({p.stem for p in paths.metrics.glob("*.json")} | {p.name for p in paths.scores.glob("*")
                                                                     if p.is_dir()}) if paths.metrics.is_dir() else []
    stale = [name for name in stale if name not in entries]
    for name in stale:
        (paths.metrics / f"{name}.json").unlink(missing_ok=True)
        shutil.rmtree(paths.scores / name, ignore_errors=True)
    return stale


def score_entry(params: dict[str, Any], entry: MethodEntry, cells: list[Cell], paths: ScorePaths,
                fingerprint: str, git_rev: str) -> tuple[dict[str, Any], Any]:
    """Score one entry's predictions under every named protocol and write its result files.

    Returns the summary written to ``results/metrics/<entry>.json`` and the per-image frame.
    """
    import pandas as pd

    from denoisebench.methods import METHODS
    from denoisebench.metrics import Protocol
    from denoisebench.result_files import score_cell, write_entry_results

    protocols = {name: Protocol.from_dict(spec) for name, spec in section(params, "score", "protocols").items()}
    pred_root = paths.predictions / entry.entry
    skipped_path = pred_root / "skipped.json"
    skipped = json.loads(skipped_path.read_text()) if skipped_path.is_file() else {}
    frames = [score_cell(cell, paths.noisy / cell.testset / cell.label / "clean", pred_root / cell.testset / cell.label,
                         protocols) for cell in cells if cell.key not in skipped]
    frame = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    method_cls = METHODS.get(entry.method)
    summary_path = paths.models / entry.entry / "summary.json"
    scored_sets = set(frame["testset"]) if len(frame) else set()
    profile = active_profile(params)
    meta = {
        "entry": entry.entry, "method": entry.method, "paper": method_cls.paper, "kind": method_cls.kind,
        "config": entry.config, "profile": profile,
        "limit_images": section(params, "evaluation", profile).get("limit_images"),  # per-set values: meta.sets
        "sets": {name: info for name, info in set_descriptions(params).items() if name in scored_sets},
        "protocol": protocols["default"].to_dict(), "protocol_text": protocols["default"].describe(),
        **{f"protocol_text_{name}": p.describe() for name, p in protocols.items() if name != "default"},
        "choices": list(method_cls.choices) + sigma_choice(method_cls, frame)
        + [f"not evaluated on {k}: {v}" for k, v in skipped.items()],
        "synthesis": {k: section(params, "synthesize").get(k) for k in ("seed", "clip", "quantize")},
        "train": json.loads(summary_path.read_text()) if summary_path.is_file() else {},
        "git_rev": git_rev, "fingerprint": fingerprint,
    }
    return write_entry_results(entry, frame, meta, paths.metrics, paths.scores), frame


def sigma_choice(method_cls: Any, frame: Any) -> list[str]:
    """The choice a non-blind method makes on real-noise cells, where no true sigma exists."""
    if method_cls.uses_sigma and len(frame) and (frame["noise"] == "real").any():
        return ["real-noise cells: sigma estimated from each noisy image (scikit-image estimate_sigma, wavelet MAD)"]
    return []


def log_evaluation_run(entry: MethodEntry, summary: dict[str, Any], cells: list[Cell], paths: ScorePaths,
                       profile: str) -> None:
    """One MLflow run for the entry's evaluation: PSNR/SSIM, seconds per image and zero-shot iterations per cell
    (what its predict stage measured), one noisy/restored sample per cell, and the cells as dataset inputs."""
    from denoisebench.tracking import tracked_run

    scored = [cell for cell in cells if cell.label in summary.get(cell.testset, {})]
    with tracked_run(stage="score", method=entry.entry, dataset=None, profile=profile,
                     params={"entry": entry.entry, "method": entry.method, "config": entry.config,
                             "profile": profile}) as run:
        for step, cell in enumerate(scored):
            values = summary[cell.testset][cell.label]
            run.log_metrics({f"{key}.{cell.testset}.{cell.label}": value for key, value in values.items()
                             if isinstance(value, (int, float)) and key != "n_images"}, step=step)
            log_sample(run, paths.noisy, paths.predictions / entry.entry, cell)
            log_cell_input(run, paths.noisy, cell)


def log_cell_input(run: Any, noisy_root: Path, cell: Cell) -> None:
    """Log a test cell as an MLflow dataset input ("evaluation"); its digest is the sha256 of the cell's
    manifest.json (dataset, noise params, per-image seeds and shapes: synthesis is a pure function of these)."""
    manifest = noisy_root / cell.testset / cell.label / "manifest.json"
    raw = manifest.read_bytes()
    run.log_dataset(f"{cell.testset}/{cell.label}", hashlib.sha256(raw).hexdigest(), str(manifest.parent.resolve()),
                    "evaluation", {"images": len(json.loads(raw).get("images", []))})


def log_sample(run: Any, noisy_root: Path, pred_root: Path, cell: Cell) -> None:
    """Log the first image of a cell (noisy input beside the restored output) as an MLflow sample image."""
    import numpy as np

    from denoisebench.imageio import read_image
    from denoisebench.synthesis import read_manifest

    images = read_manifest(noisy_root / cell.testset / cell.label)["images"]
    if not images:
        return
    first = images[0]
    noisy = read_image(noisy_root / cell.testset / cell.label / "noisy" / first["noisy_file"])
    restored = read_image(pred_root / cell.testset / cell.label / f"{first['id']}.npy")
    run.log_image(np.concatenate([noisy, restored], axis=1), f"{cell.testset}_{cell.label}_{first['id']}")

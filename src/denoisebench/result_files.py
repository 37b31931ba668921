"""The score step's outputs: the results contract that tables are built from.

Per method entry:
    results/metrics/<entry>.json           {testset: {noise label: {psnr, ssim, psnr_shave3, ..., n_images,
                                             sec_per_image}}} (numbers only, for ``dvc metrics show``)
                                             (+ iterations: mean per-image training steps of zero-shot methods)
    results/scores/<entry>/per_image.csv   entry, method, testset, noise, image, psnr, ssim, ..., seconds
                                           (+ iterations for zero-shot methods)
    results/scores/<entry>/meta.json       entry, method, paper, kind, profile, protocols and their text, choices,
                                           limit_images, sets (per test set: dataset, split, crop, limit_images,
                                           repeats), train summary, git revision
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pandas as pd

from denoisebench.config import Cell, MethodEntry
from denoisebench.fsutil import write_json_atomic, write_text_atomic

#: Columns of ``per_image.csv`` (zero-shot methods add ``iterations``).
PER_IMAGE_COLUMNS = ("entry", "method", "testset", "noise", "image", "psnr", "ssim", "psnr_shave3", "ssim_shave3",
                     "seconds")


def score_cell(cell: Cell, clean_dir: Path, pred_dir: Path, protocols: dict[str, Any]) -> pd.DataFrame:
    """Per-image scores of one predicted cell under every named protocol, with prediction timings."""
    from denoisebench.scoring import score_folders

    frame = score_folders(clean_dir, pred_dir, protocols)
    timings_path = pred_dir / "timings.csv"
    if timings_path.is_file():
        timings = pd.read_csv(timings_path, dtype={"image": str})
        keep = ["image", "seconds"] + (["iterations"] if timings.get("iterations", pd.Series()).notna().any() else [])
        frame = frame.merge(timings[keep], on="image", how="left")
    else:
        frame["seconds"] = float("nan")
    frame.insert(0, "noise", cell.label)
    frame.insert(0, "testset", cell.testset)
    return frame


def summarize_cells(frame: pd.DataFrame) -> dict[str, dict[str, dict[str, float]]]:
    """Nested means per (testset, noise) for the metrics JSON."""
    metric_cols = [c for c in frame.columns if c.startswith(("psnr", "ssim"))]
    summary: dict[str, dict[str, dict[str, float]]] = {}
    for (testset, noise), group in frame.groupby(["testset", "noise"], sort=True):
        cell = {col: _finite(group[col].mean()) for col in metric_cols}
        cell["n_images"] = int(len(group))
        cell["sec_per_image"] = round(float(group["seconds"].mean()), 4) if group["seconds"].notna().any() else None
        if "iterations" in group and group["iterations"].notna().any():
            cell["iterations"] = round(float(group["iterations"].mean()), 1)
        summary.setdefault(str(testset), {})[str(noise)] = cell
    return summary


def _finite(value: float) -> float | None:
    """Rounded mean, or None (JSON null) where it is not finite: identical images give an infinite PSNR."""
    return round(float(value), 4) if math.isfinite(float(value)) else None


def write_entry_results(entry: MethodEntry, frame: pd.DataFrame, meta: dict[str, Any], metrics_dir: Path,
                        scores_dir: Path) -> dict[str, Any]:
    """Write the three result files of one entry; returns the summary written to the metrics JSON."""
    summary = summarize_cells(frame) if len(frame) else {}
    if len(frame):
        ordered = frame.copy()
        ordered.insert(0, "method", entry.method)
        ordered.insert(0, "entry", entry.entry)
    else:  # evaluated on no cell of this profile (e.g. a real-noise-only entry in demo): header only
        ordered = pd.DataFrame(columns=list(PER_IMAGE_COLUMNS))
    write_json_atomic(metrics_dir / f"{entry.entry}.json", summary)
    write_text_atomic(scores_dir / entry.entry / "per_image.csv", ordered.to_csv(index=False, float_format="%.4f"))
    write_json_atomic(scores_dir / entry.entry / "meta.json", meta)
    return summary

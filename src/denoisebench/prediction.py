"""The predict step: run one method entry on every synthesized test cell it applies to, saving float outputs.

Outputs (``<out>/<entry>/<testset>/<noise label>/``): ``<id>.npy`` (float32, lossless, not clipped) and
``timings.csv`` (image, seconds, sigma given to the method). Cells an entry cannot handle (a grey model on a colour
set, a per-sigma model on another sigma) are listed with the reason in ``<out>/<entry>/skipped.json``.
"""

from __future__ import annotations

import csv
import io
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from denoisebench.config import Cell, MethodEntry
from denoisebench.fsutil import write_json_atomic, write_text_atomic
from denoisebench.imageio import read_image, write_image
from denoisebench.methods.base import DenoiseContext, Method
from denoisebench.synthesis import read_manifest


def skip_reason(entry: MethodEntry, cell: Cell, channels: int, manifest: dict[str, Any]) -> str | None:
    """Why ``entry`` cannot be evaluated on ``cell`` (None when it can).

    A colour model runs on grey images by channel replication (see :func:`denoise_adapted`); a grey model does
    not run on colour images; a model trained for one AWGN sigma runs only on cells with that sigma.
    """
    model_channels = entry.config.get("channels")
    if model_channels == 1 and channels == 3:
        return "grey model on a colour test set"
    train_noise = entry.config.get("train_noise") or {}
    trained_sigma = train_noise.get("sigma") if isinstance(train_noise, dict) else None
    if trained_sigma is not None and manifest.get("sigma") != trained_sigma:
        return f"trained for AWGN sigma={trained_sigma} only"
    return None


def denoise_adapted(method: Method, noisy: np.ndarray, context: DenoiseContext) -> np.ndarray:
    """Run ``method``; a colour model (config channels=3) on a grey image sees it replicated to RGB."""
    if method.config.get("channels") == 3 and noisy.shape[2] == 1:
        out = method.denoise(np.repeat(noisy, 3, axis=2), context)
        return out.mean(axis=2, keepdims=True).astype(np.float32)
    return method.denoise(noisy, context)


def estimate_sigma_255(noisy: np.ndarray) -> float:
    """Noise level (0-255) of a real noisy image by scikit-image's wavelet MAD estimator, averaged over channels."""
    from skimage.restoration import estimate_sigma

    clipped = np.clip(noisy, 0.0, 1.0)
    return float(estimate_sigma(clipped, channel_axis=-1, average_sigmas=True)) * 255.0


@dataclass
class CellResult:
    """Per-cell outcome of prediction."""

    cell: Cell
    n_images: int
    seconds: float


def predict_cell(method: Method, entry: MethodEntry, cell: Cell, cell_dir: Path, manifest: dict[str, Any],
                 out_dir: Path, device: str) -> CellResult:
    """Denoise every noisy image of one synthesized cell (its ``manifest``); write outputs and ``timings.csv``."""
    rows = []
    total = 0.0
    for record in manifest["images"]:
        noisy = read_image(cell_dir / "noisy" / record["noisy_file"])
        sigma = manifest.get("sigma")
        if sigma is None:
            sigma = estimate_sigma_255(noisy)
        context = DenoiseContext(sigma=sigma, noise=manifest.get("noise_params"), seed=int(record.get("seed") or 0),
                                 device=device)
        start = time.perf_counter()
        restored = denoise_adapted(method, noisy, context)
        seconds = time.perf_counter() - start
        total += seconds
        if restored.shape != noisy.shape:
            raise RuntimeError(f"method {entry.entry!r} returned shape {restored.shape} for {record['id']} "
                               f"of shape {noisy.shape}")
        write_image(out_dir / f"{record['id']}.npy", restored.astype(np.float32))
        rows.append({"image": record["id"], "seconds": f"{seconds:.4f}", "sigma": f"{sigma:.4f}"})
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=["image", "seconds", "sigma"], lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    write_text_atomic(out_dir / "timings.csv", buf.getvalue())
    return CellResult(cell, len(rows), total)


def predict_entry(method: Method, entry: MethodEntry, cells: list[Cell], noisy_root: Path, out_root: Path,
                  device: str) -> list[CellResult]:
    """Run ``method`` on every applicable cell; record the skipped ones with their reason."""
    results: list[CellResult] = []
    skipped: dict[str, str] = {}
    for cell in cells:
        cell_dir = noisy_root / cell.testset / cell.label
        manifest = read_manifest(cell_dir)
        channels = manifest["images"][0]["shape"][2] if manifest["images"] else 3
        reason = skip_reason(entry, cell, channels, manifest)
        if reason:
            skipped[cell.key] = reason
            continue
        results.append(predict_cell(method, entry, cell, cell_dir, manifest, out_root / cell.testset / cell.label,
                                    device))
    write_json_atomic(out_root / "skipped.json", skipped)
    return results

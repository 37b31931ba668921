"""The predict step: run one method entry on every synthesized test cell it applies to, saving float outputs.

Outputs (``<out>/<entry>/<testset>/<noise label>/``): ``<id>.npy`` (float32, lossless, not clipped) and
``timings.csv`` (image, seconds, sigma given to the method). Cells an entry cannot handle (a grey model on a colour
set, a per-sigma model on another sigma) are listed with the reason in ``<out>/<entry>/skipped.json``.
"""

from __future__ import annotations

import csv
import fnmatch
import io
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from denoisebench.config import Cell, MethodEntry
from denoisebench.fsutil import write_json_atomic, write_text_atomic
from denoisebench.imageio import read_image, write_image
from denoisebench.methods.base import DenoiseContext, Method
from denoisebench.synthesis import read_manifest


@dataclass(frozen=True)
class CellQuery:
    """What the skip rules see of one (entry, cell) pair."""

    entry: MethodEntry
    method_kind: str
    cell: Cell
    channels: int
    manifest: dict[str, Any]
    zeroshot_sets_defined: bool


def _grey_model_on_colour(q: CellQuery) -> str | None:
    return "grey model on a colour test set" if q.entry.config.get("channels") == 1 and q.channels == 3 else None


def _other_sigma(q: CellQuery) -> str | None:
    train_noise = q.entry.config.get("train_noise") or {}
    trained_sigma = train_noise.get("sigma") if isinstance(train_noise, dict) else None
    if trained_sigma is not None and q.manifest.get("sigma") != trained_sigma:
        return f"trained for AWGN sigma={trained_sigma} only"
    return None


def _zeroshot_elsewhere(q: CellQuery) -> str | None:
    if q.method_kind == "zero-shot" and q.zeroshot_sets_defined and not q.cell.zeroshot:
        return "zero-shot entries run only on the sets marked zeroshot: true (per-image training is costly)"
    return None


def _not_in_evaluate_on(q: CellQuery) -> str | None:
    patterns = q.entry.evaluate_on
    if patterns is not None and not any(fnmatch.fnmatchcase(q.cell.label, p) for p in patterns):
        return f"evaluate_on {list(patterns)} does not include noise {q.cell.label!r}"
    return None


def set_runs_entry(patterns: tuple[str, ...] | None, entry: str) -> bool:
    """Whether a set's ``entries`` patterns admit ``entry``: it matches a pattern and no ``!pattern`` (None = every
    entry), so a set can run "every entry but the released models" (``["*", "!*_pub_*"]``)."""
    if patterns is None:
        return True
    excluded = any(fnmatch.fnmatchcase(entry, p[1:]) for p in patterns if p.startswith("!"))
    return not excluded and any(fnmatch.fnmatchcase(entry, p) for p in patterns if not p.startswith("!"))


def _not_in_set_entries(q: CellQuery) -> str | None:
    if not set_runs_entry(q.cell.entries, q.entry.entry):
        return f"test set {q.cell.testset!r} runs only the entries {list(q.cell.entries or ())}"
    return None


#: Rules deciding which cells an entry is not evaluated on; the first reason found is recorded.
SKIP_RULES: tuple[Callable[[CellQuery], str | None], ...] = (
    _grey_model_on_colour, _other_sigma, _zeroshot_elsewhere, _not_in_evaluate_on, _not_in_set_entries,
)


def skip_reason(query: CellQuery) -> str | None:
    """Why ``query.entry`` is not evaluated on ``query.cell`` (None when it is).

    A colour model runs on grey images by channel replication (see :func:`denoise_adapted`); a grey model does
    not run on colour images; a model trained for one AWGN sigma runs only on cells with that sigma; zero-shot
    methods run only on the sets marked ``zeroshot: true`` (when any is); an entry's ``evaluate_on`` patterns
    restrict it to matching noise labels.
    """
    for rule in SKIP_RULES:
        reason = rule(query)
        if reason:
            return reason
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
    mean_iterations: float | None = None


TIMING_COLUMNS = ("image", "seconds", "sigma", "iterations", "train_seconds")


def predict_cell(method: Method, entry: MethodEntry, cell: Cell, cell_dir: Path, manifest: dict[str, Any],
                 out_dir: Path, device: str) -> CellResult:
    """Denoise every noisy image of one synthesized cell (its ``manifest``); write outputs and ``timings.csv``.

    The context's ``extra["dataset"]`` names the cell's dataset. Zero-shot methods report their per-image training
    in ``context.extra["zeroshot"]``; its ``iterations`` and ``train_seconds`` become timing columns (empty for
    other methods).
    """
    rows = []
    total = 0.0
    iterations: list[float] = []
    for record in manifest["images"]:
        noisy = read_image(cell_dir / "noisy" / record["noisy_file"])
        sigma = manifest.get("sigma")
        if sigma is None:
            sigma = estimate_sigma_255(noisy)
        # the cell's dataset rides along: a multi-task model picks the decoder of a real paired set by it
        context = DenoiseContext(sigma=sigma, noise=manifest.get("noise_params"), seed=int(record.get("seed") or 0),
                                 device=device, extra={"dataset": manifest.get("dataset", cell.dataset)})
        start = time.perf_counter()
        restored = denoise_adapted(method, noisy, context)
        seconds = time.perf_counter() - start
        total += seconds
        if restored.shape != noisy.shape:
            raise RuntimeError(f"method {entry.entry!r} returned shape {restored.shape} for {record['id']} "
                               f"of shape {noisy.shape}")
        write_image(out_dir / f"{record['id']}.npy", restored.astype(np.float32))
        zeroshot = context.extra.get("zeroshot") or {}
        if zeroshot.get("iterations") is not None:
            iterations.append(float(zeroshot["iterations"]))
        rows.append({"image": record["id"], "seconds": f"{seconds:.4f}", "sigma": f"{sigma:.4f}",
                     "iterations": zeroshot.get("iterations", ""),
                     "train_seconds": "" if zeroshot.get("train_seconds") is None
                     else f"{float(zeroshot['train_seconds']):.4f}"})
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(TIMING_COLUMNS), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    write_text_atomic(out_dir / "timings.csv", buf.getvalue())
    return CellResult(cell, len(rows), total, float(np.mean(iterations)) if iterations else None)


@dataclass(frozen=True)
class EntryPlan:
    """The cells an entry runs on (each with its synthesized manifest) and the skipped ones with their reason."""

    run: list[tuple[Cell, dict[str, Any]]]
    skipped: dict[str, str]


def plan_entry(entry: MethodEntry, method_kind: str, cells: list[Cell], noisy_root: Path) -> EntryPlan:
    """Apply :data:`SKIP_RULES` to every cell (reads only the manifests, so a stage can stop before any heavy
    import when nothing applies)."""
    run: list[tuple[Cell, dict[str, Any]]] = []
    skipped: dict[str, str] = {}
    zeroshot_sets_defined = any(cell.zeroshot for cell in cells)
    for cell in cells:
        manifest = read_manifest(noisy_root / cell.testset / cell.label)
        channels = manifest["images"][0]["shape"][2] if manifest["images"] else 3
        reason = skip_reason(CellQuery(entry, method_kind, cell, channels, manifest, zeroshot_sets_defined))
        if reason:
            skipped[cell.key] = reason
        else:
            run.append((cell, manifest))
    return EntryPlan(run, skipped)


def write_skipped(out_root: Path, plan: EntryPlan) -> None:
    """``<out_root>/skipped.json``: the cells the entry is not evaluated on, with the reason."""
    write_json_atomic(out_root / "skipped.json", plan.skipped)


def predict_entry(method: Method, entry: MethodEntry, cells: list[Cell], noisy_root: Path, out_root: Path,
                  device: str, plan: EntryPlan | None = None) -> list[CellResult]:
    """Run ``method`` on every applicable cell (``plan``, computed when not given); record the skipped ones."""
    plan = plan or plan_entry(entry, method.kind, cells, noisy_root)
    results = [predict_cell(method, entry, cell, noisy_root / cell.testset / cell.label, manifest,
                            out_root / cell.testset / cell.label, device)
               for cell, manifest in plan.run]
    write_skipped(out_root, plan)
    return results

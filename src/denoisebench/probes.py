"""Probe images for the paper stages (figures, ablations, high-level tables): clean/noisy pairs made exactly as
the pipeline's synthesize stage makes them (same crop-then-noise order, same per-image seeds derived from the
noise label), so a figure's noisy input is byte-identical to the one the tables were scored on.
"""

from __future__ import annotations

from pathlib import Path

from denoisebench.config import Cell
from denoisebench.synthesis import CellPair, cell_pairs


def probe_pairs(dataset: str, noise: str, data_root: str | Path, *, split: str | None = None,
                limit: int | None = None, crop: int | None = None, seed: int = 0,
                overrides: dict[str, bool] | None = None) -> list[CellPair]:
    """The pairs of the test cell (``dataset``/``split``, ``noise`` spec text or ``"real"``, first ``limit``
    images, centre ``crop``), as :func:`denoisebench.synthesis.cell_pairs` yields them for the synthesize stage.

    ``seed`` is the synthesize stage's base seed (params ``synthesize.seed``); ``overrides`` its clip/quantize
    params (:func:`denoisebench.synthesis.noise_overrides`).
    """
    cell = Cell(testset=dataset, dataset=dataset, split=split, noise=noise, limit=limit, crop=crop)
    return list(cell_pairs(cell, Path(data_root), seed, overrides or {}))

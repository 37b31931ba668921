"""Compact comparison files for experiments: ``results/summary/summary.json`` (a few headline numbers, so that
``dvc exp show`` fits a screen) and ``results/summary/reported_vs_reproduced.csv`` (one row per reproduced paper
PSNR cell, the data of ``dvc plots``' reported-vs-reproduced scatter).

A reported cell is matched with a reproduced one exactly as on the paper pages: the paper method's entries from
paper's declaration (``Paper.method_map``), the first with a result for the cell's test set and noise (per image when the
paper's table lists several images of that condition, else the dataset average).
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from denoisebench.fsutil import write_json_atomic, write_text_atomic
from denoisebench.papers import all_papers
from denoisebench.tables.loader import ResultSet, load_results

#: The metric of the headline numbers and of the scatter (SSIM stays on the paper pages).
METRIC = "psnr"
SUMMARY_NAME = "summary.json"
SCATTER_NAME = "reported_vs_reproduced.csv"


@dataclass(frozen=True)
class Comparison:
    """One reported PSNR cell with its reproduced value (``cell`` = ``dataset, noise[, image]`` as reported)."""

    paper: str
    number: str
    table: str
    method: str
    entry: str
    cell: str
    reported: float
    reproduced: float
    delta: float
    profile: str
    subset: bool
    crop: int | None


def _multi_image_conditions(records: list[dict[str, Any]]) -> set[tuple[str, str, str]]:
    """(table, testset, noise) conditions whose records name more than one image: those are compared per image."""
    images: dict[tuple[str, str, str], set[str]] = {}
    for r in records:
        if r.get("image_id"):
            images.setdefault((r["table"], str(r.get("testset")), str(r.get("noise"))), set()).add(r["image_id"])
    return {cond for cond, ids in images.items() if len(ids) > 1}


def _number(value: Any) -> float | None:
    """``value`` as a finite float, else None."""
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return out if math.isfinite(out) else None


def _compare(key: str, number: str, r: dict[str, Any], entries: list[str], results: ResultSet,
             per_image: bool) -> Comparison | None:
    """The comparison of one reported record, None when no mapped entry has the cell."""
    testset, noise, reported = r.get("testset"), r.get("noise"), _number(r.get("value"))
    if not testset or not noise or reported is None:
        return None
    image = r["image_id"] if per_image else None
    match = results.first_match(entries, testset, noise, image)
    if match is None:
        return None
    source = match.image_scores().get(image) if image else match.summary
    reproduced = _number((source or {}).get(METRIC))
    if reproduced is None:
        return None
    cell = ", ".join(str(part) for part in (r.get("dataset") or testset, noise, image) if part)
    return Comparison(key, number, str(r["table"]), str(r["method"]), match.entry.entry, cell, reported, reproduced,
                      round(reproduced - reported, 4), match.entry.profile,
                      image is None and match.entry.is_subset(match.set_name, match.noise), match.spec.get("crop"))


def comparisons(results: ResultSet, references_dir: str | Path) -> list[Comparison]:
    """Every reported PSNR cell of every paper that a mapped entry reproduced, in paper-number order."""
    from denoisebench.references import read_reference_csv

    out: list[Comparison] = []
    for paper in all_papers():
        key, mapping = paper.key, paper.method_map
        if not mapping:
            continue
        frame = read_reference_csv(paper.reported_path(references_dir))
        records = frame.astype(object).where(frame.notna(), None).to_dict("records")
        multi = _multi_image_conditions(records)
        for r in records:
            entries = mapping.get(r["method"]) or []
            if r.get("metric") != METRIC or not entries:
                continue
            per_image = (r["table"], str(r.get("testset")), str(r.get("noise"))) in multi and bool(r.get("image_id"))
            found = _compare(key, paper.number, r, list(entries), results, per_image)
            if found is not None:
                out.append(found)
    return out


def headline(rows: list[Comparison], results: ResultSet, papers: list[str] = ()) -> dict[str, Any]:
    """The summary metrics: per paper (``p<NNN>``) the number of reproduced PSNR cells (``n_cells``; 0 for the
    ``papers`` listed without any, so their column exists) and their mean difference reproduced - reported in dB
    (``d_psnr``); per entry its mean PSNR over the test cells it was scored on (``psnr``)."""
    by_paper: dict[str, list[float]] = {paper: [] for paper in papers}
    for row in rows:
        by_paper.setdefault(f"p{row.number}", []).append(row.delta)
    psnr = {}
    for name, entry in sorted(results.entries.items()):
        values = [v for cells in entry.metrics.values() for cell in cells.values()
                  if (v := _number(cell.get(METRIC))) is not None]
        if values:
            psnr[name] = round(sum(values) / len(values), 3)
    return {"n_cells": {paper: len(deltas) for paper, deltas in by_paper.items()},
            "d_psnr": {paper: round(sum(deltas) / len(deltas), 3) for paper, deltas in by_paper.items() if deltas},
            "psnr": psnr}


def scatter_csv(rows: list[Comparison]) -> str:
    """CSV text of :func:`comparisons` (header: the :class:`Comparison` fields)."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(Comparison.__dataclass_fields__), lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: ("" if v is None else v) for k, v in asdict(row).items()})
    return buf.getvalue()


def write_summary(results_dir: str | Path, references_dir: str | Path, out_dir: str | Path) -> list[Path]:
    """Write ``<out_dir>/summary.json`` and ``<out_dir>/reported_vs_reproduced.csv``; return their paths."""
    results = load_results(results_dir)
    rows = comparisons(results, references_dir)
    out = Path(out_dir)
    mapped = [f"p{paper.number}" for paper in all_papers() if paper.method_map]
    write_json_atomic(out / SUMMARY_NAME, headline(rows, results, mapped))
    write_text_atomic(out / SCATTER_NAME, scatter_csv(rows))
    return [out / SUMMARY_NAME, out / SCATTER_NAME]

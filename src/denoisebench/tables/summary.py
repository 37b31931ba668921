"""Compact comparison files for experiments: ``results/summary/summary.json`` (per paper the counts of its page's
Summary line, per entry its mean PSNR) and ``results/summary/reported_vs_reproduced.csv`` (one row per reported
average cell with a benchmark value, the data of ``dvc plots``' reported-vs-reproduced scatter).

Both come from :func:`denoisebench.tables.cells.paper_cells`, the function behind the pages' Summary, so
``dvc exp show``, the scatter and the pages count the same cells.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from denoisebench.fsutil import write_json_atomic, write_text_atomic
from denoisebench.papers import Paper, all_papers
from denoisebench.tables.cells import PaperCell, counts, paper_cells
from denoisebench.tables.loader import ResultSet, load_results

#: The metric of the headline numbers and of the scatter (SSIM stays on the paper pages).
METRIC = "psnr"
SUMMARY_NAME = "summary.json"
SCATTER_NAME = "reported_vs_reproduced.csv"


@dataclass(frozen=True)
class Comparison:
    """One reported average cell with a benchmark value (``cell`` = ``dataset, noise``), its evidence and verdict."""

    paper: str
    number: str
    table: str
    method: str
    entry: str
    cell: str
    metric: str
    reported: float
    reproduced: float
    delta: float
    profile: str
    evidence: str
    verdict: str
    own: bool


def _cells(results: ResultSet, references_dir: str | Path) -> list[tuple[Paper, list[PaperCell]]]:
    """Every paper with mapped methods and its reported average cells with verdicts, by number."""
    from denoisebench.references import read_reference_csv

    out = []
    for paper in all_papers():
        if paper.method_map:
            frame = read_reference_csv(paper.reported_path(references_dir))
            records = frame.astype(object).where(frame.notna(), None).to_dict("records")
            out.append((paper, paper_cells(paper, records, results)))
    return out


def comparisons(cells: list[tuple[Paper, list[PaperCell]]]) -> list[Comparison]:
    """The cells of ``cells`` that have a benchmark value, in paper-number order."""
    out = []
    for paper, paper_cells_ in cells:
        for c in paper_cells_:
            v = c.verdict
            if v.value is None or v.match is None or v.cls is None:
                continue
            out.append(Comparison(paper.key, paper.number, c.table, c.method, v.match.entry.entry,
                                  f"{c.dataset}, {c.noise}", c.metric, c.reported, round(v.value, 4),
                                  round(v.delta or 0.0, 4), v.match.entry.profile, v.cls.label, v.status, c.own))
    return out


def _number(value: Any) -> float | None:
    """``value`` as a finite float, else None."""
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return out if math.isfinite(out) else None


def headline(cells: list[tuple[Paper, list[PaperCell]]], results: ResultSet) -> dict[str, Any]:
    """The summary metrics: per paper (``p<NNN>``) the counts of its Summary line (``cells``, ``reproduced``,
    ``computed``, ``missing``, and per evidence class ``class_<key>``: cells with a value of that class); per entry
    its mean PSNR over the test cells it was scored on (``psnr``)."""
    psnr = {}
    for name, entry in sorted(results.entries.items()):
        values = [v for by_noise in entry.metrics.values() for cell in by_noise.values()
                  if (v := _number(cell.get(METRIC))) is not None]
        if values:
            psnr[name] = round(sum(values) / len(values), 3)
    return {"papers": {f"p{paper.number}": counts(found) for paper, found in cells}, "psnr": psnr}


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
    cells = _cells(results, references_dir)
    out = Path(out_dir)
    write_json_atomic(out / SUMMARY_NAME, headline(cells, results))
    write_text_atomic(out / SCATTER_NAME, scatter_csv(comparisons(cells)))
    return [out / SUMMARY_NAME, out / SCATTER_NAME]

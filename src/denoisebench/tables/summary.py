"""Compact comparison files for experiments: ``results/summary/summary.json`` (per paper the counts of its page's
Summary line, per entry its mean PSNR), ``results/summary/reported_vs_reproduced.csv`` (one row per reported
average cell with a benchmark value, the data of ``dvc plots``' reported-vs-reproduced scatter) and
``results/summary/training_curves.csv`` (every entry's loss curve in one file, the data of the training plot).

Both come from :func:`denoisebench.tables.cells.paper_cells`, the function behind the pages' Summary, so
``dvc exp show``, the scatter and the pages count the same cells.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from denoisebench.fsutil import write_json_atomic, write_text_atomic
from denoisebench.papers import Paper, all_papers
from denoisebench.tables.cells import PaperCell, _number, counts, paper_cells
from denoisebench.tables.evidence import incomplete
from denoisebench.tables.loader import ResultSet, load_results

#: The metric of the headline numbers and of the scatter (SSIM stays on the paper pages).
METRIC = "psnr"
SUMMARY_NAME = "summary.json"
SCATTER_NAME = "reported_vs_reproduced.csv"
CURVES_NAME = "training_curves.csv"
#: Per paper ``p<NNN>.json`` with its counts: ``dvc metrics show -R results/summary/papers`` prints a row each.
PAPERS_DIR = "papers"
CURVE_COLUMNS = ("paper", "entry", "profile", "step", "loss")


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
    why: str
    full_test_set: bool
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
                                  round(v.delta or 0.0, 4), v.match.entry.profile, v.cls.label, v.status, v.why,
                                  not incomplete(v.match, testset=c.testset), c.own))
    return out


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


def curves_csv(curves_dir: Path, results: ResultSet) -> str:
    """The training curves of ``curves_dir`` (one ``<entry>.csv`` each) in one long CSV (``paper, entry, profile,
    step, loss``), so one plot can name every entry (a colour per entry, a panel per paper). An entry not scored
    yet has paper and profile ``?``."""
    from denoisebench.curves import read_step_csv

    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(CURVE_COLUMNS)
    for path in sorted(curves_dir.glob("*.csv")) if curves_dir.is_dir() else []:
        entry = results.get(path.stem)
        paper = str(entry.meta.get("paper") or "?") if entry is not None else "?"
        profile = entry.profile if entry is not None else "?"
        for step, values in sorted(read_step_csv(path).items()):
            if "loss" in values:
                writer.writerow([paper, path.stem, profile, step, f"{values['loss']:.6g}"])
    return buf.getvalue()


def write_summary(results_dir: str | Path, references_dir: str | Path, out_dir: str | Path,
                  unavailable: Mapping[str, str] | None = None) -> list[Path]:
    """Write ``<out_dir>/summary.json``, ``papers/p<NNN>.json`` (the same counts, one file per paper),
    ``reported_vs_reproduced.csv`` and ``training_curves.csv`` (from ``<results_dir>/curves``); return the paths
    of the three summary files."""
    results = load_results(results_dir, unavailable)
    cells = _cells(results, references_dir)
    out = Path(out_dir)
    summary = headline(cells, results)
    write_json_atomic(out / SUMMARY_NAME, summary)
    for name, paper_counts in summary["papers"].items():  # one row per paper in `dvc metrics show -R`
        write_json_atomic(out / PAPERS_DIR / f"{name}.json", paper_counts)
    write_text_atomic(out / SCATTER_NAME, scatter_csv(comparisons(cells)))
    write_text_atomic(out / CURVES_NAME, curves_csv(Path(results_dir) / "curves", results))
    return [out / SUMMARY_NAME, out / SCATTER_NAME, out / CURVES_NAME]

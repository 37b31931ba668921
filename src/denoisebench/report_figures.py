"""Per-paper figures of the report stage: reported vs reproduced PSNR (one point per reproduced cell, the diagonal
as reference) and a zoomed visual comparison of the paper's mapped methods on one test image.

Inputs are the pipeline's own outputs: ``results/summary/reported_vs_reproduced.csv`` (written by the tables
stage), ``data/noisy`` and ``results/predictions`` / ``results/scores``. Outputs (PNG) go to the report's figure
folder as ``paper_<NNN>_reported_vs_reproduced.png`` and ``paper_<NNN>_zoom.png``; the paper pages link them.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from denoisebench.papers import Paper, all_papers
from denoisebench.stage_support import LOG

SCATTER_FILE = "paper_{number}_reported_vs_reproduced.png"
ZOOM_FILE = "paper_{number}_zoom.png"


def figure_links(paper: Paper) -> tuple[tuple[str, str], ...]:
    """The page links (relative to ``reports/papers/``) of a mapped paper's report figures."""
    if not paper.method_map:
        return ()
    return (("Reported vs reproduced PSNR, one point per cell (report stage)",
             f"../figures/{SCATTER_FILE.format(number=paper.number)}"),
            ("Zoomed comparison of the mapped methods on one test image (report stage)",
             f"../figures/{ZOOM_FILE.format(number=paper.number)}"))


def _read_pairs(csv_path: Path) -> list[dict[str, str]]:
    if not csv_path.is_file():
        return []
    with csv_path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def scatter_figure(rows: list[dict[str, str]], number: str, out: Path) -> Path | None:
    """One paper's scatter: reproduced (y) against reported (x) PSNR per method, hollow markers for cells on
    image subsets or crops, the diagonal y = x; None when the paper has no reproduced cell."""
    rows = [r for r in rows if r.get("number") == number]
    if not rows:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.2, 5.0))
    values = [float(r[k]) for r in rows for k in ("reported", "reproduced")]
    low, high = min(values) - 1.0, max(values) + 1.0
    ax.plot([low, high], [low, high], color="0.5", linewidth=1, linestyle="--", label="reproduced = reported")
    for i, method in enumerate(dict.fromkeys(r["method"] for r in rows)):
        mine = [r for r in rows if r["method"] == method]
        partial = [r for r in mine if r.get("full_test_set") == "False"]
        full = [r for r in mine if r not in partial]
        colour = f"C{i % 10}"
        for group, face in ((full, colour), (partial, "none")):
            if group:
                ax.scatter([float(r["reported"]) for r in group], [float(r["reproduced"]) for r in group], s=22,
                           facecolors=face, edgecolors=colour, label=method if group is full or not full else None)
    profiles = ", ".join(sorted({r["profile"] for r in rows}))
    ax.set_xlim(low, high)
    ax.set_ylim(low, high)
    ax.set_aspect("equal")
    ax.set_xlabel("reported PSNR (dB)")
    ax.set_ylabel("reproduced PSNR (dB)")
    ax.set_title(f"paper {number}: {len(rows)} cells, profile {profiles}\n(hollow: image subset or crop)",
                 fontsize=9)
    ax.legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out


def _cells(predictions: Path, entry: str) -> set[tuple[str, str]]:
    """(test set, noise label) folders holding predictions of ``entry``."""
    root = predictions / entry
    if not root.is_dir():
        return set()
    return {(d.parent.name, d.name) for d in root.glob("*/*") if d.is_dir() and any(d.iterdir())}


def zoom_rows(paper: Paper, predictions: Path, reported: set[tuple[str, str]] = frozenset()
              ) -> tuple[tuple[str, str] | None, dict[str, str]]:
    """The cell most of the paper's mapped methods were predicted on (cells the paper reports first, then
    full-image sets before ``*_zs`` crop sets, then name order) and, per method, the first of its entries with
    predictions there. ``reported``: the (test set, noise label) cells of the paper's reported numbers."""
    per_method = {m: [(e, _cells(predictions, e)) for e in entries] for m, entries in paper.method_map.items()}
    counts: dict[tuple[str, str], int] = {}
    for entries in per_method.values():
        for cell in set().union(*(cells for _, cells in entries)) if entries else ():
            counts[cell] = counts.get(cell, 0) + 1
    if not counts:
        return None, {}
    cell = min(counts, key=lambda c: (c not in reported, -counts[c], c[0].endswith("_zs"), c))
    rows = {"Noisy": "noisy"}
    for method, entries in per_method.items():
        entry = next((e for e, cells in entries if cell in cells), None)
        if entry is not None:
            rows[method] = entry
    return cell, rows


def reported_cells(paper: Paper, references_dir: Path) -> set[tuple[str, str]]:
    """(test set, noise label) of the paper's reported numbers (empty when its CSV is not there)."""
    from denoisebench.references import read_reference_csv, result_noise_label

    path = paper.reported_path(references_dir)
    if not path.is_file():
        return set()
    frame = read_reference_csv(path).dropna(subset=["testset", "noise"])
    return {(str(t), result_noise_label(str(n))) for t, n in zip(frame["testset"], frame["noise"])}


def zoom_figure(paper: Paper, noisy: Path, predictions: Path, scores: Path, out: Path,
                reported: set[tuple[str, str]] = frozenset()) -> Path | None:
    """The zoomed comparison of :func:`zoom_rows` through :mod:`denoisebench.zoom`; None when nothing to show."""
    from denoisebench import zoom
    from denoisebench.imageio import read_uint8

    cell, rows = zoom_rows(paper, predictions, reported)
    if cell is None or len(rows) < 2:
        return None
    clean = sorted((noisy / cell[0] / cell[1] / "clean").glob("*.png"))
    if not clean:
        return None
    side = max(8, min(96, min(read_uint8(clean[0]).shape[:2]) // 2))
    zoom.main(["--testset", cell[0], "--label", cell[1], "--rows", json.dumps(rows), "--crop", str(side),
               "--data", str(noisy), "--predictions", str(predictions), "--scores", str(scores),
               "--out", str(out), "--csv", str(out.with_suffix(".csv")), "--params", str(out) + ".no-params"])
    return out


def write_paper_figures(results_dir: str | Path, noisy_dir: str | Path, figures_dir: str | Path,
                        references_dir: str | Path = "references") -> list[Path]:
    """Every mapped paper's scatter and zoomed comparison; returns the written PNGs."""
    results, figures = Path(results_dir), Path(figures_dir)
    pairs = _read_pairs(results / "summary" / "reported_vs_reproduced.csv")
    written: list[Path] = []
    for paper in all_papers():
        if not paper.method_map:
            continue
        made: list[Any] = [scatter_figure(pairs, paper.number, figures / SCATTER_FILE.format(number=paper.number))]
        try:
            made.append(zoom_figure(paper, Path(noisy_dir), results / "predictions", results / "scores",
                                    figures / ZOOM_FILE.format(number=paper.number),
                                    reported_cells(paper, Path(references_dir))))
        except SystemExit as exc:  # zoom reports a known problem (e.g. a missing prediction) and exits
            LOG.warning("paper %s: no zoomed comparison (%s)", paper.number, exc)
        written += [p for p in made if p is not None]
    return written

"""Paper 001's addition to its page's Summary: the meta-test stage's numbers on the stand-in test sets.

The paper's Nam and SIDD+PolyU validation cells have no counterpart in the results tree (neither set is offline),
so the Summary counts them as missing; the meta-test stage (:mod:`.metatest`) scores stand-ins instead (CC15 for
Nam, the zero-padded PolyU pool for the validation split). This shows its comparison table in the Summary, named
for what it is: computed on stand-in data, never a reproduction.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from denoisebench.tables.loader import ResultSet

#: The meta-test stage's per-image file, relative to the pages folder (``reports/papers``).
PER_IMAGE = Path("..") / "paper_001" / "metatest" / "per_image.csv"
NUMERIC = ("psnr_before", "psnr_after", "gain_db", "ssim_before", "ssim_after")


def _rows(path: Path) -> list[dict[str, Any]]:
    with open(path, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    return [{**r, **{k: float(r[k]) for k in NUMERIC}} for r in rows]


def summary_extra(pages: Path, results: ResultSet) -> str:
    """Markdown: the paper's Tables 2-3 rows beside the meta-test means on the stand-in sets ("" before the
    meta-test stage has run)."""
    from denoisebench.papers.p001_meta_tta.metatest import paper_comparison, summarise
    from denoisebench.tables.evidence import evidence_class

    path = pages / PER_IMAGE
    if not path.is_file():
        return ("\n### Meta-test on stand-in data\n\nThe meta-test stage (`metatest_001`) has not written "
                f"`{PER_IMAGE.as_posix()}` yet.\n")
    summary = summarise(_rows(path))
    entries = sorted({s["entry"] for s in summary})
    classes = sorted({f"{evidence_class(e).label} (`{e.profile}`)" for name in entries
                      if (e := results.get(name)) is not None})
    profile = "/".join(sorted({e.profile for name in entries if (e := results.get(name)) is not None})) or "?"
    lines = [line for line in paper_comparison(summary, profile) if not line.startswith("## ")]
    return ("\n### Meta-test on stand-in data\n\n"
            "The cells above on Nam and on the SIDD+PolyU validation split are missing because neither set is "
            "offline; the meta-test stage scores stand-ins (CC15 crops of Nam's images; the zero-padded PolyU pool). "
            f"Evidence: {', '.join(classes) or 'entries not scored yet'} on stand-in data, so these numbers are "
            "*computed*, not reproductions. Per image and both protocols: the meta-test report linked below.\n\n"
            + "\n".join(lines).strip("\n") + "\n")

"""Functions behind ``denoisebench datasets list|fetch|verify``; they return values and never print."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable

from denoisebench.datasets.catalog import DATASETS
from denoisebench.datasets.fetch import VerifyReport, fetch_dataset, get_spec, verify_dataset

TABLE_COLUMNS = ("name", "kind", "role", "color", "files", "splits", "licence")


def dataset_rows(names: Iterable[str] | None = None) -> list[dict[str, str]]:
    """One row per dataset with the columns of :data:`TABLE_COLUMNS`."""
    rows = []
    for name in names or DATASETS.names():
        spec = get_spec(name)
        rows.append({
            "name": spec.name, "kind": spec.kind, "role": spec.role, "color": spec.color,
            "files": str(len(spec.files)), "splits": ",".join(spec.splits), "licence": spec.license,
        })
    return rows


def format_dataset_table(names: Iterable[str] | None = None, licence_width: int = 60) -> str:
    """A plain-text table of the registered datasets (name, kind, role, color, #files, splits, licence)."""
    rows = dataset_rows(names)
    for row in rows:
        if len(row["licence"]) > licence_width:
            row["licence"] = row["licence"][: licence_width - 3] + "..."
    widths = {c: max(len(c), *(len(r[c]) for r in rows)) for c in TABLE_COLUMNS}
    lines = ["  ".join(c.ljust(widths[c]) for c in TABLE_COLUMNS).rstrip(),
             "  ".join("-" * widths[c] for c in TABLE_COLUMNS)]
    lines += ["  ".join(r[c].ljust(widths[c]) for c in TABLE_COLUMNS).rstrip() for r in rows]
    return "\n".join(lines)


def resolve_names(names: Iterable[str] | None) -> list[str]:
    """Expand ``None``/empty or ``["all"]`` to every registered dataset; check the others exist."""
    given = list(names or [])
    if not given or given == ["all"]:
        return DATASETS.names()
    for name in given:
        DATASETS.get(name)  # raises UnknownNameError listing valid names
    return given


def fetch_datasets(names: Iterable[str] | None, root: str | os.PathLike[str],
                   mirror: str | os.PathLike[str] | None = None, *, allow_download: bool = True,
                   progress: bool = False) -> dict[str, Path]:
    """Fetch several datasets; returns ``name -> folder``. Stops at the first failure (the error says why)."""
    return {name: fetch_dataset(name, root, mirror, allow_download=allow_download, progress=progress)
            for name in resolve_names(names)}


def verify_datasets(names: Iterable[str] | None, root: str | os.PathLike[str]) -> list[VerifyReport]:
    """Verify several datasets (missing folders show up as missing files)."""
    return [verify_dataset(name, root) for name in resolve_names(names)]


def format_verify_reports(reports: Iterable[VerifyReport], details: int = 5) -> str:
    """Summary lines, followed by up to ``details`` missing / mismatched files per dataset."""
    lines = []
    for report in reports:
        lines.append(report.summary())
        lines += [f"  missing: {p}" for p in report.missing[:details]]
        lines += [f"  mismatched: {p} expected {e} actual {a}" for p, e, a in report.mismatched[:details]]
        hidden = len(report.missing) + len(report.mismatched) - min(len(report.missing), details) \
            - min(len(report.mismatched), details)
        if hidden > 0:
            lines.append(f"  ... and {hidden} more")
    return "\n".join(lines)

#!/usr/bin/env python
"""Derive ``references/`` (the papers' reported numbers as project data) from ``paper_results.yaml``.

Writes, deterministically (same input -> byte-identical files) and atomically (each file is renamed into
place only when complete):

- ``references/<paper_key>.csv``: one row per reported number (columns ``REFERENCE_COLUMNS``);
- ``references/papers.yaml``: paper key -> number, file, csv, title, venue, counts, table notes, missing tables.

``references/README.md`` is hand-written and never touched; which benchmark entries map to which paper method is
in each paper package's declaration (``denoisebench.papers``).

Usage: ``python tools/build_references.py [PAPER_RESULTS_YAML] [--out references]``
(default input: ``<repo>/../shared/docs/paper_results.yaml``).
"""

from __future__ import annotations

import argparse
import csv
import io
import sys
from collections import Counter
from pathlib import Path
from typing import Any, Iterable

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))  # run from a checkout without installing

from denoisebench.errors import ConfigError  # noqa: E402
from denoisebench.fsutil import sha256_file, write_text_atomic  # noqa: E402
from denoisebench.references import (  # noqa: E402
    REFERENCE_COLUMNS,
    image_id_from_label,
    noise_label_from_degradation,
    testset_from_dataset,
)

DEFAULT_SOURCE = REPO.parent / "shared" / "docs" / "paper_results.yaml"
REQUIRED_FIELDS = ("id", "key", "table", "method", "metric", "value", "confidence")


def _text(value: Any) -> str:
    """CSV cell text: ``None`` -> empty, numbers via ``repr`` (shortest round-trip form)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return repr(value)
    return " ".join(str(value).split()) if isinstance(value, str) else str(value)


def record_to_row(record: dict[str, Any]) -> dict[str, str]:
    """One ``paper_results.yaml`` record -> one CSV row (strings)."""
    missing = [f for f in REQUIRED_FIELDS if record.get(f) is None]
    if missing:
        raise ConfigError(f"paper_results record {record.get('id', '?')} lacks fields {missing}")
    value = record["value"]
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        raise ConfigError(f"paper_results record {record['id']}: value {value!r} is not a number")
    printed = record.get("printed")
    row = {
        "id": record["id"],
        "paper": record["key"],
        "table": record["table"],
        "method": record["method"],
        "method_group": record.get("method_group"),
        "dataset": record.get("dataset"),
        "testset": testset_from_dataset(record.get("dataset")),
        "degradation": record.get("degradation"),
        "noise": noise_label_from_degradation(record.get("degradation")),
        "metric": record["metric"],
        "value": value,
        "printed": printed if printed is not None else _text(value),
        "unit": record.get("unit"),
        "image": record.get("image"),
        "image_id": image_id_from_label(record.get("image")),
        "source": record.get("source"),
        "pair_id": record.get("pair_id"),
        "mark": record.get("mark"),
        "confidence": record["confidence"],
        "suspect": record.get("suspect"),
        "notes": record.get("notes"),
    }
    return {column: _text(row[column]) for column in REFERENCE_COLUMNS}


def rows_to_csv(rows: Iterable[dict[str, str]]) -> str:
    """Render rows as CSV text with ``\\n`` line ends and a header."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(REFERENCE_COLUMNS), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def _paper_number(file_name: str) -> str:
    """``"004_bf7c....txt"`` -> ``"004"``."""
    head = file_name.split("_", 1)[0]
    if not head.isdigit():
        raise ConfigError(f"paper file name {file_name!r} does not start with its number (NNN_...)")
    return head


def build(data: dict[str, Any], source_name: str, source_sha256: str) -> dict[str, str]:
    """Return ``{relative file name: text}`` for every generated file."""
    records = data.get("records")
    papers = data.get("papers")
    if not isinstance(records, list) or not isinstance(papers, dict):
        raise ConfigError(f"{source_name} needs a 'records' list and a 'papers' mapping")
    ids = Counter(r.get("id") for r in records)
    dupes = sorted(i for i, n in ids.items() if n > 1)
    if dupes:
        raise ConfigError(f"{source_name}: duplicate record ids {dupes[:5]}")
    by_paper: dict[str, list[dict[str, str]]] = {key: [] for key in papers}
    for record in records:
        key = record.get("key")
        if key not in by_paper:
            raise ConfigError(f"{source_name}: record {record.get('id')} has paper key {key!r} not in 'papers'")
        by_paper[key].append(record_to_row(record))
    expected = (data.get("meta") or {}).get("counts") or {}
    for key, count in expected.items():
        actual = len(records) if key == "total" else len(by_paper.get(key, []))
        if actual != count:
            raise ConfigError(f"{source_name}: meta.counts says {key}={count} but {actual} records were found")

    notes = data.get("table_notes") or {}
    missing_tables = data.get("missing_tables") or []
    files: dict[str, str] = {}
    index: dict[str, Any] = {}
    for key, info in papers.items():
        rows = by_paper[key]
        csv_name = f"{key}.csv"
        files[csv_name] = rows_to_csv(rows)
        table_order = list(dict.fromkeys(r["table"] for r in rows))
        index[key] = {
            "number": _paper_number(info["file"]),
            "file": info["file"],
            "csv": csv_name,
            "title": info.get("title"),
            "venue": info.get("venue"),
            "n_records": len(rows),
            "tables": table_order,
            "table_notes": {
                name.split(" | ", 1)[1]: " ".join(str(text).split())
                for name, text in notes.items() if name.split(" | ", 1)[0] == key
            },
            "missing_tables": [
                {k: v for k, v in item.items() if k != "key"} for item in missing_tables if item.get("key") == key
            ],
        }
    import yaml

    header = (
        "# GENERATED by tools/build_references.py from shared/docs/paper_results.yaml; do not edit by hand.\n"
        "# Regenerate: python tools/build_references.py\n"
    )
    body = {"source": {"file": source_name, "sha256": source_sha256, "n_records": len(records)}, "papers": index}
    files["papers.yaml"] = header + yaml.safe_dump(body, sort_keys=False, allow_unicode=True, width=110)
    return files


def write(files: dict[str, str], out_dir: Path) -> list[Path]:
    """Write every file atomically; drop CSVs of papers that the previous ``papers.yaml`` listed but the new
    one does not (only files this tool generated)."""
    import yaml

    out_dir.mkdir(parents=True, exist_ok=True)
    old_index = out_dir / "papers.yaml"
    stale: set[str] = set()
    if old_index.is_file():
        old = yaml.safe_load(old_index.read_text(encoding="utf-8")) or {}
        stale = {p.get("csv") for p in (old.get("papers") or {}).values() if isinstance(p, dict)} - set(files)
    written = []
    for name in sorted(files, key=lambda n: n == "papers.yaml"):  # the index last
        write_text_atomic(out_dir / name, files[name])
        written.append(out_dir / name)
    for name in sorted(n for n in stale if n and n.endswith(".csv")):
        (out_dir / name).unlink(missing_ok=True)
    return written


def main(argv: list[str] | None = None) -> int:
    """CLI entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("source", nargs="?", type=Path, default=DEFAULT_SOURCE,
                        help=f"paper_results.yaml (default: {DEFAULT_SOURCE})")
    parser.add_argument("--out", type=Path, default=REPO / "references", help="output folder (default: references/)")
    args = parser.parse_args(argv)
    if not args.source.is_file():
        parser.error(f"{args.source} does not exist; pass the path of shared/docs/paper_results.yaml")
    import yaml

    data = yaml.safe_load(args.source.read_text(encoding="utf-8"))
    files = build(data, "shared/docs/paper_results.yaml", sha256_file(args.source))
    written = write(files, args.out)
    n = sum(len(text.splitlines()) - 1 for name, text in files.items() if name.endswith(".csv"))
    print(f"wrote {len(written)} files ({n} reported numbers) to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

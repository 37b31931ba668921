"""Stage `tables`: write reports/results.md and reports/papers/*.md from results/ and references/.

Usage: python stages/tables.py [--results results] [--references references] [--out reports]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from denoisebench.tables import write_paper_tables, write_results_md


def main(argv: list[str] | None = None) -> int:
    """Parse the paths and call the two writers."""
    parser = argparse.ArgumentParser(description="Generate the result tables (reports/).")
    parser.add_argument("--results", type=Path, default=Path("results"), help="results tree (default: results)")
    parser.add_argument("--references", type=Path, default=Path("references"),
                        help="reported numbers (default: references)")
    parser.add_argument("--out", type=Path, default=Path("reports"), help="output folder (default: reports)")
    args = parser.parse_args(argv)
    results_md = write_results_md(args.results, args.out / "results.md")
    pages = write_paper_tables(args.results, args.references, args.out / "papers")
    print(f"wrote {results_md} and {len(pages)} paper pages under {args.out / 'papers'}")
    return 0


if __name__ == "__main__":
    from denoisebench.stage_support import run_stage

    run_stage(main)

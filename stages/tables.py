"""Stage `tables`: write reports/results.md, reports/papers/*.md and results/summary/ (summary.json,
reported_vs_reproduced.csv) from results/ and references/.

Usage: python stages/tables.py [--results results] [--references references] [--out reports]
                               [--summary <results>/summary] [--params params.yaml]

The params file (when it exists) gives the test sets the active profile leaves out and why
(``evaluation.<profile>.unavailable``): the pages name them instead of "no result".
"""

from __future__ import annotations

import argparse
from pathlib import Path

from denoisebench.tables import write_paper_tables, write_results_md
from denoisebench.tables.summary import write_summary


def unavailable_sets(params_file: Path) -> dict[str, str]:
    """Test set and dataset names the active profile declares unavailable, each with its reason."""
    if not params_file.is_file():
        return {}
    from denoisebench.config import load_params
    from denoisebench.preflight import unavailable_sets as declared

    return {name: item.how for item in declared(load_params(params_file)) for name in (item.used_by, item.name)}


def main(argv: list[str] | None = None) -> int:
    """Parse the paths and call the two writers."""
    parser = argparse.ArgumentParser(description="Generate the result tables (reports/).")
    parser.add_argument("--results", type=Path, default=Path("results"), help="results tree (default: results)")
    parser.add_argument("--references", type=Path, default=Path("references"),
                        help="reported numbers (default: references)")
    parser.add_argument("--out", type=Path, default=Path("reports"), help="output folder (default: reports)")
    parser.add_argument("--summary", type=Path, default=None,
                        help="folder of summary.json and reported_vs_reproduced.csv (default: <results>/summary)")
    parser.add_argument("--params", type=Path, default=Path("params.yaml"),
                        help="params whose evaluation.<profile>.unavailable the pages name (skipped when absent)")
    args = parser.parse_args(argv)
    unavailable = unavailable_sets(args.params)
    results_md = write_results_md(args.results, args.out / "results.md", unavailable)
    pages = write_paper_tables(args.results, args.references, args.out / "papers", unavailable)
    summary = write_summary(args.results, args.references, args.summary or args.results / "summary", unavailable)
    print(f"wrote {results_md}, {len(pages)} paper pages under {args.out / 'papers'} and {', '.join(map(str, summary))}")
    return 0


if __name__ == "__main__":
    from denoisebench.stage_support import run_stage

    run_stage(main)

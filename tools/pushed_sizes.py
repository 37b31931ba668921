"""Sizes of the pipeline's outputs as recorded in dvc.lock, split into what ``dvc push`` sends to the remote
(cached outputs) and what travels in git (``cache: false``), grouped by kind (data, models, predictions, ...).

    python tools/pushed_sizes.py [--repo .] [--json out.json]

The sizes are DVC's own (``size`` / ``nfiles`` of each output in dvc.lock, i.e. of the profile that produced the
lock), so nothing is re-measured on disk.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

#: Output path prefix -> group shown in the table (first match wins).
GROUPS = (("data/raw", "data/raw (datasets, released weights)"), ("data/noisy", "data/noisy (noisy test sets)"),
          ("models", "models (weights, state, history)"), ("results/predictions", "results/predictions"),
          ("results/", "results (metrics, scores, curves, summary)"), ("reports/", "reports (tables, pages, figures)"))


def group_of(path: str) -> str:
    return next((name for prefix, name in GROUPS if path.startswith(prefix)), "other")


def output_sizes(repo: Path) -> dict[str, dict[str, dict[str, int]]]:
    """``{"pushed"|"git": {group: {"bytes", "files", "outputs"}}}`` from the repository's dvc.yaml/dvc.lock."""
    from dvc.repo import Repo

    table: dict[str, dict[str, dict[str, int]]] = {"pushed": {}, "git": {}}
    with Repo(str(repo)) as dvc_repo:
        for stage in dvc_repo.index.stages:
            for out in stage.outs:
                meta = out.meta
                if meta is None or meta.size is None:
                    continue
                where = "pushed" if out.use_cache else "git"
                row = table[where].setdefault(group_of(out.def_path), {"bytes": 0, "files": 0, "outputs": 0})
                row["bytes"] += int(meta.size)
                row["files"] += int(meta.nfiles or 1)
                row["outputs"] += 1
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repo", default=".")
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    table = output_sizes(Path(args.repo))
    for where, rows in table.items():
        total = sum(r["bytes"] for r in rows.values())
        print(f"{'dvc push (cache)' if where == 'pushed' else 'git (cache: false)'}: {total / 1e6:.1f} MB")
        for group, row in sorted(rows.items()):
            print(f"  {group:44} {row['bytes'] / 1e6:10.1f} MB {row['files']:7d} files {row['outputs']:4d} outputs")
    if args.json:
        Path(args.json).write_text(json.dumps(table, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()

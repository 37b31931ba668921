"""Result tables: ``reports/results.md`` (leaderboards) and ``reports/papers/<NNN>.md`` (reported vs
reproduced), generated only from the results tree and ``references/``."""

from __future__ import annotations

from denoisebench.tables.loader import EntryResult, ResultSet, ResultsFormatError, load_results
from denoisebench.tables.papers import render_paper_page, write_paper_tables
from denoisebench.tables.results import render_results_md, write_results_md

__all__ = [
    "EntryResult",
    "ResultSet",
    "ResultsFormatError",
    "load_results",
    "render_paper_page",
    "render_results_md",
    "write_paper_tables",
    "write_results_md",
]

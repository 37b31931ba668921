"""The reported average cells of a paper, each with the best evidence the benchmark has and its verdict.

One list feeds the paper page's Summary, ``index.md`` and ``results/summary/`` (``summary.json``'s counts and the
scatter), so they count the same cells. A cell is one (table, paper method, test set, noise) of a reported dataset
average (or of a condition the paper reports for a single image only: compared with the benchmark's average),
judged on PSNR when the paper reports it; the per-image rows of a table are left to the page's tables.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from denoisebench.papers import Paper
from denoisebench.references import result_noise_label
from denoisebench.tables.evidence import CLASSES, MISSING_CELL, Verdict, best_match, judge
from denoisebench.tables.loader import ResultSet

PREFERRED_METRIC = "psnr"


@dataclass(frozen=True)
class PaperCell:
    """One reported cell and its verdict; ``own``: a mapped entry is the paper's own code (``meta.paper``)."""

    table: str
    method: str
    dataset: str
    degradation: str
    testset: str
    noise: str
    metric: str
    printed: str
    reported: float
    own: bool
    verdict: Verdict


def multi_image_conditions(records: Sequence[Mapping[str, Any]]) -> set[tuple[str, str, str]]:
    """(table, testset, noise) conditions whose records name more than one image: those are per-image tables."""
    images: dict[tuple[str, str, str], set[str]] = {}
    for r in records:
        if r.get("image_id"):
            images.setdefault((str(r["table"]), str(r.get("testset")), str(r.get("noise"))), set()).add(r["image_id"])
    return {cond for cond, ids in images.items() if len(ids) > 1}


def _number(value: Any) -> float | None:
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return out if math.isfinite(out) else None


def _missing_reason(entries: list[str], testset: str, noise: str, results: ResultSet) -> str:
    """Why none of ``entries`` has the cell: not run, skipped (with the recorded reason), or not evaluated."""
    ran = [results.get(e) for e in entries if results.get(e) is not None]
    if not ran:
        return "entry not run yet"
    prefix = f"not evaluated on {testset}/{result_noise_label(noise)}: "
    for entry in ran:
        for choice in entry.choices:
            if choice.startswith(prefix):
                return "skipped: " + choice[len(prefix):]
    if not any(name == testset or spec.get("dataset") == testset for entry in ran
               for name, spec in [*((n, entry.set_spec(n)) for n in entry.metrics)]):
        reason = results.unavailable.get(testset)
        return f"{UNAVAILABLE}{testset} ({reason})" if reason else NO_RESULT + testset
    return f"no {result_noise_label(noise)} result on {testset}"


def paper_cells(paper: Paper, records: Sequence[Mapping[str, Any]], results: ResultSet) -> list[PaperCell]:
    """Every reported average cell of ``paper`` (``records``: its reported numbers) with its verdict."""
    multi = multi_image_conditions(records)
    groups: dict[tuple[str, str, str, str], list[Mapping[str, Any]]] = {}
    for r in records:
        testset, noise = r.get("testset"), r.get("noise")
        if not testset or not noise or (r.get("image_id") and (str(r["table"]), str(testset), str(noise)) in multi):
            continue
        if _number(r.get("value")) is None:
            continue
        groups.setdefault((str(r["table"]), str(r["method"]), str(testset), str(noise)), []).append(r)
    mapping = {m: list(v) for m, v in paper.method_map.items()}
    out = []
    for (table, method, testset, noise), recs in groups.items():
        rec = next((r for r in recs if r.get("metric") == PREFERRED_METRIC), recs[0])
        entries = mapping.get(method, [])
        own = any((e := results.get(name)) is not None and e.meta.get("paper") == paper.key for name in entries)
        reported = float(rec["value"])
        match = best_match(results, entries, testset, noise) if entries else None
        if not entries:
            verdict = Verdict(MISSING_CELL, "method not implemented in the benchmark")
        elif match is None:
            verdict = Verdict(MISSING_CELL, _missing_reason(entries, testset, noise, results))
        else:
            verdict = judge(match, match.summary.get(str(rec["metric"])), reported, testset=testset)
        out.append(PaperCell(table, method, str(rec.get("dataset") or testset), str(rec.get("degradation") or noise),
                             testset, noise, str(rec["metric"]), str(rec["printed"]), reported, own, verdict))
    return out


def counts(cells: Sequence[PaperCell]) -> dict[str, int]:
    """``cells``, ``reproduced``, ``computed``, ``missing`` and, per evidence class, the cells with a value of that
    class (``class_<key>``, 0 included so that every paper has the same keys)."""
    status = Counter(c.verdict.status for c in cells)
    classes = Counter(c.verdict.cls.key for c in cells if c.verdict.cls is not None and c.verdict.value is not None)
    return {"cells": len(cells), "reproduced": status["reproduced"], "computed": status["computed"],
            "missing": status["missing"], **{f"class_{c.key}": classes[c.key] for c in CLASSES}}


NO_RESULT = "no result on "
#: A test set the profile declares unavailable (``evaluation.<profile>.unavailable``), with its reason.
UNAVAILABLE = "not evaluated in this profile: "
#: Reasons naming a test set, gathered into one reason listing the sets: prefix -> the gathered reason.
SET_REASONS = {NO_RESULT: NO_RESULT + "their test set", UNAVAILABLE: "test set not evaluated in this profile"}


def _reasons(cells: Sequence[PaperCell], status: str) -> str:
    """``"20 short schedule (`quick`), 4 no result on their test set (nam, set9)"`` for the cells of ``status``, by
    each cell's first reason (the test sets without results, and those the profile leaves out, each gathered in
    one reason)."""
    reasons: Counter[str] = Counter()
    sets: dict[str, dict[str, None]] = {}
    for c in cells:
        if c.verdict.status != status:
            continue
        why = c.verdict.why.split("; ")[0]
        for prefix, gathered in SET_REASONS.items():
            if why.startswith(prefix):
                sets.setdefault(gathered, {})[why[len(prefix):].split(" (")[0]] = None
                why = gathered
        reasons[why] += 1
    return ", ".join(f"{n} {why}" + (f" ({', '.join(sets[why])})" if why in sets else "")
                     for why, n in reasons.most_common())


def status_line(cells: Sequence[PaperCell]) -> str:
    """One line: how many cells are reproduced within tolerance, computed only, missing, and why."""
    n = counts(cells)
    if not n["cells"]:
        return "No reported average cell on a test set the benchmark knows."
    parts = [f"**{n['reproduced']} of {n['cells']}** reported average cells reproduced within tolerance"]
    parts.append(f"{n['computed']} computed only" + (f" ({_reasons(cells, 'computed')})" if n["computed"] else ""))
    parts.append(f"{n['missing']} missing" + (f" ({_reasons(cells, 'missing')})" if n["missing"] else ""))
    return "; ".join(parts) + "."

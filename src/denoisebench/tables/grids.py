"""Render one paper table (reported numbers, plus reproduced numbers where mapped) as markdown grids."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from denoisebench.tables.loader import FULL_SET_SIZES, EntryResult, ResultSet
from denoisebench.tables.markdown import MISSING, decimals_of, fmt, fmt_delta, sigma_label, table

COPIED_PHRASE = "copied from prior work"
BEST_MARKS = ("bold (best)", "red (best)")
SECOND_MARKS = ("underscore (second best)", "blue (second best)")
#: Conditions-as-columns layout (methods as rows) up to this many conditions, else conditions as rows.
MAX_CONDITION_COLUMNS = 4


@dataclass
class Context:
    """What a paper page needs to fill reproduced cells, plus the current table's footnotes."""

    mapping: dict[str, str]
    results: ResultSet
    shave3: bool = False
    suspects: list[str] = field(default_factory=list)
    copied: list[str] = field(default_factory=list)
    medium: list[str] = field(default_factory=list)

    def entry(self, method: str) -> EntryResult | None:
        name = self.mapping.get(method)
        return self.results.get(name) if name else None

    def footnotes(self) -> str:
        lines = [f"- \\* {s}" for s in dict.fromkeys(self.suspects)]
        if self.copied:
            lines.append("- † The extraction notes that these cells equal the numbers of a prior paper (there "
                         "the method was trained on a dataset), i.e. they look copied from prior work rather than "
                         "re-run as the table claims; a rerun is not expected to match them. Records: "
                         + ", ".join(dict.fromkeys(self.copied)) + ".")
        if self.medium:
            lines.append("- ? Medium confidence: the cell assignment relies on a garbled header or an inconsistent "
                         "source (see the record notes). Records: " + ", ".join(dict.fromkeys(self.medium)) + ".")
        self.suspects, self.copied, self.medium = [], [], []
        return ("\n" + "\n".join(lines) + "\n") if lines else ""


def condition_label(rec: dict[str, Any]) -> str:
    """``"Kodak24, σ=25"``; records without a dataset (parameter counts) are labelled ``"model size"``."""
    if not rec.get("dataset"):
        return "model size" if rec.get("metric") in ("params", "param_ratio") else "—"
    noise = sigma_label(rec.get("degradation"))
    return f"{rec['dataset']}, {noise}" if noise else str(rec["dataset"])


def cond_key(rec: dict[str, Any]) -> tuple[str, str]:
    return (str(rec.get("dataset") or ""), str(rec.get("degradation") or ""))


def reported_cell(records: list[dict[str, Any]], ctx: Context) -> str:
    """The printed values of one cell (``"31.87 / 0.868"``) with the paper's marks and our flags."""
    if not records:
        return MISSING
    parts = []
    for r in records:
        text = str(r["printed"])
        if r.get("mark") in BEST_MARKS:
            text = f"**{text}**"
        elif r.get("mark") in SECOND_MARKS:
            text = f"_{text}_"
        if r.get("suspect"):
            text += "\\*"
            ctx.suspects.append(f"`{r['id']}` ({r['method']}, {condition_label(r)}, {r['metric']}): {r['suspect']}")
        if COPIED_PHRASE in str(r.get("notes") or "").lower():
            text += "†"
            ctx.copied.append(f"`{r['id']}`")
        if r.get("confidence") == "medium":
            text += "?"
            ctx.medium.append(f"`{r['id']}`")
        parts.append(text)
    return " / ".join(parts)


def reproduced_cell(records: list[dict[str, Any]], entry: EntryResult | None, *, shave: bool = False,
                    image: str | None = None) -> str:
    """Reproduced values for the metrics of ``records`` and their differences (reproduced - reported).

    Returns :data:`MISSING` when the entry, its test set/noise cell, or every metric is absent. Tags: the
    profile when it is not ``paper``; ``n/N img`` when the cell averaged fewer images than the full set.
    """
    if entry is None or not records:
        return MISSING
    testset, noise = records[0].get("testset"), records[0].get("noise")
    if not testset or not noise:
        return MISSING
    summary = entry.cell(testset, noise)
    source = entry.image_scores(testset, noise).get(image) if image else summary
    if not source:
        return MISSING
    values, deltas = [], []
    for r in records:
        metric = f"{r['metric']}_shave3" if shave else str(r["metric"])
        value = source.get(metric)
        dec = decimals_of(r["printed"])
        values.append(fmt(value, dec))
        numeric = isinstance(value, (int, float)) and not isinstance(value, bool)
        delta = fmt_delta(value - float(r["value"]), dec) if numeric and value == value else MISSING
        if delta != MISSING:
            copied = COPIED_PHRASE in str(r.get("notes") or "").lower()
            delta += ("\\*" if r.get("suspect") else "") + ("†" if copied else "")
        deltas.append(delta)
    if all(v == MISSING for v in values):
        return MISSING
    text = f"{' / '.join(values)} (Δ {' / '.join(deltas)})"
    tags = []
    if entry.profile != "paper":
        tags.append(f"{entry.profile}")
    if image is None and entry.is_subset(testset, noise):
        n = (summary or {}).get("n_images")
        full = FULL_SET_SIZES.get(testset)
        tags.append(f"{fmt(n, 0)}/{full} img" if full else f"{fmt(n, 0)} img, limit {entry.limit_images}")
    return text + (f" [{', '.join(tags)}]" if tags else "")


def _group(records: list[dict[str, Any]]) -> tuple[list[str], list[tuple[str, str]], dict[tuple, list]]:
    methods = list(dict.fromkeys(r["method"] for r in records))
    conds = list(dict.fromkeys(cond_key(r) for r in records))
    cells: dict[tuple, list] = {}
    for r in records:
        cells.setdefault((r["method"], cond_key(r)), []).append(r)
    return methods, conds, cells


def _method_label(method: str, ctx: Context) -> str:
    entry = ctx.mapping.get(method)
    return f"{method} → `{entry}`" if entry else method


def grid(records: list[dict[str, Any]], ctx: Context) -> str:
    """Dataset-average table: methods as rows when there are few conditions, else conditions as rows."""
    methods, conds, cells = _group(records)
    first = {cond_key(r): r for r in reversed(records)}
    mapped = [m for m in methods if m in ctx.mapping]
    shave = ctx.shave3 and any(r["metric"] == "psnr" for r in records)
    if len(conds) <= MAX_CONDITION_COLUMNS:
        headers = ["Method"]
        for c in conds:
            label = condition_label(first[c])
            headers.append(f"{label} reported" if mapped else label)
            if mapped:
                headers.append(f"{label} reproduced (Δ)")
                if shave:
                    headers.append(f"{label} shave3 (Δ)")
        rows = []
        for m in methods:
            row = [_method_label(m, ctx)]
            for c in conds:
                recs = cells.get((m, c), [])
                row.append(reported_cell(recs, ctx))
                if mapped:
                    row.append(reproduced_cell(recs, ctx.entry(m)))
                    if shave:
                        row.append(reproduced_cell(recs, ctx.entry(m), shave=True))
            rows.append(row)
        return table(headers, rows)
    headers = ["Dataset", "Noise", *methods]
    for m in mapped:
        headers.append(f"{_method_label(m, ctx)} reproduced (Δ)")
        if shave:
            headers.append(f"{_method_label(m, ctx)} shave3 (Δ)")
    rows = []
    for c in conds:
        row = [first[c].get("dataset") or MISSING, sigma_label(first[c].get("degradation")) or MISSING]
        row += [reported_cell(cells.get((m, c), []), ctx) for m in methods]
        for m in mapped:
            row.append(reproduced_cell(cells.get((m, c), []), ctx.entry(m)))
            if shave:
                row.append(reproduced_cell(cells.get((m, c), []), ctx.entry(m), shave=True))
        rows.append(row)
    return table(headers, rows)


def per_image_grid(records: list[dict[str, Any]], averages: list[dict[str, Any]], ctx: Context) -> str:
    """Per-image table of one condition: images as rows (plus the paper's average row), methods as columns."""
    methods = list(dict.fromkeys(r["method"] for r in records))
    mapped = [m for m in methods if m in ctx.mapping]
    shave = ctx.shave3 and any(r["metric"] == "psnr" for r in records)
    by_cell: dict[tuple[str, str | None], list] = {}
    for r in records + averages:
        by_cell.setdefault((r["method"], r.get("image_id")), []).append(r)
    images = list(dict.fromkeys(r["image_id"] for r in records))
    headers = ["Image", *methods]
    for m in mapped:
        headers.append(f"{_method_label(m, ctx)} reproduced (Δ)")
        if shave:
            headers.append(f"{_method_label(m, ctx)} shave3 (Δ)")
    rows = []
    for image in [*images, None]:
        label = image if image is not None else "Average"
        row = [label] + [reported_cell(by_cell.get((m, image), []), ctx) for m in methods]
        for m in mapped:
            recs = by_cell.get((m, image), [])
            row.append(reproduced_cell(recs, ctx.entry(m), image=image))
            if shave:
                row.append(reproduced_cell(recs, ctx.entry(m), shave=True, image=image))
        rows.append(row)
    return table(headers, rows)


def long_table(records: list[dict[str, Any]], ctx: Context) -> str:
    """One row per reported number (numbers quoted in the running text)."""
    rows = [[r["method"], condition_label(r), r["metric"], reported_cell([r], ctx), r.get("unit") or "",
             r.get("notes") or ""] for r in records]
    return table(["Quantity", "Condition", "Metric", "Value", "Unit", "Notes"], rows)

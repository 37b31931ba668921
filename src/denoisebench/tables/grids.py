"""Render one paper table (reported numbers, plus reproduced numbers where mapped) as markdown grids."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from denoisebench.tables.evidence import best_match
from denoisebench.tables.loader import FULL_SET_SIZES, CellMatch, ResultSet
from denoisebench.tables.markdown import MISSING, decimals_of, fmt, fmt_delta, sigma_label, table

COPIED_PHRASE = "copied from prior work"
BEST_MARKS = ("bold (best)", "red (best)")
SECOND_MARKS = ("underscore (second best)", "blue (second best)")
#: Conditions-as-columns layout (methods as rows) up to this many conditions, else conditions as rows.
MAX_CONDITION_COLUMNS = 4


@dataclass
class Context:
    """What a paper page needs to fill reproduced cells, plus the current table's footnotes.

    ``mapping``: paper method -> benchmark entries (of those with a result for a cell, the strongest evidence
    class wins, then the listed order: :func:`~denoisebench.tables.evidence.best_match`).
    """

    mapping: dict[str, list[str]]
    results: ResultSet
    shave3: bool = False
    suspects: list[str] = field(default_factory=list)
    copied: list[str] = field(default_factory=list)
    medium: list[str] = field(default_factory=list)
    crops: list[str] = field(default_factory=list)

    def entries(self, method: str) -> list[str]:
        """The entries mapped to ``method`` (``[]`` when unmapped)."""
        return list(self.mapping.get(method) or [])

    def footnotes(self) -> str:
        """The current table's footnotes (markdown list), then reset them for the next table."""
        lines = [f"- \\* {s}" for s in dict.fromkeys(self.suspects)]
        if self.copied:
            lines.append("- † The extraction notes that these cells equal the numbers of a prior paper (there "
                         "the method was trained on a dataset), i.e. they look copied from prior work rather than "
                         "re-run as the table claims; a rerun is not expected to match them. Records: "
                         + ", ".join(dict.fromkeys(self.copied)) + ".")
        if self.medium:
            lines.append("- ? Medium confidence: the cell assignment relies on a garbled header or an inconsistent "
                         "source (see the record notes). Records: " + ", ".join(dict.fromkeys(self.medium)) + ".")
        if self.crops:
            lines.append("- `[crop N]`: the reproduced value was computed on N×N-pixel centre crops of the test "
                         "images, not on the full images, so it is not comparable with full-image numbers. "
                         "Result sets: " + "; ".join(dict.fromkeys(self.crops)) + ".")
        self.suspects, self.copied, self.medium, self.crops = [], [], [], []
        return ("\n" + "\n".join(lines) + "\n") if lines else ""


def result_tags(match: CellMatch, ctx: Context, *, image: str | None = None, show_entry: bool = False) -> str:
    """Tags of a reproduced cell (``" [from e, quick, 4/24 img, crop 128]"``, or ``""``); notes crops in ``ctx``.

    ``from <entry>`` when ``show_entry`` (a row/method with several entries); the profile when it is not
    ``paper``; ``n/N img`` for averages over fewer images than the dataset's full set; ``crop N`` for centre crops.
    """
    entry, spec = match.entry, match.spec
    tags = [f"from {entry.entry}"] if show_entry else []
    if entry.profile != "paper":
        tags.append(entry.profile)
    if image is None and entry.is_subset(match.set_name, match.noise):
        n = match.summary.get("n_images")
        full = FULL_SET_SIZES.get(str(spec["dataset"]))
        tags.append(f"{fmt(n, 0)}/{full} img" if full else f"{fmt(n, 0)} img, limit {spec.get('limit_images')}")
    if spec.get("crop") is not None:
        tags.append(f"crop {spec['crop']}")
        ctx.crops.append(_crop_description(match))
    return f" [{', '.join(tags)}]" if tags else ""


def _crop_description(match: CellMatch) -> str:
    """``"`blind2grad` set `kodak24_zs` (kodak24, crop 128, at most 2 images)"``."""
    spec = match.spec
    parts = [str(spec["dataset"]) + (f" {spec['split']}" if spec.get("split") else ""), f"crop {spec['crop']}"]
    if spec.get("limit_images") is not None:
        parts.append(f"at most {spec['limit_images']} images")
    if (spec.get("repeats") or 1) > 1:
        parts.append(f"{spec['repeats']} noise draws per image")
    return f"`{match.entry.entry}` set `{match.set_name}` ({', '.join(parts)})"


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


def _find_source(records: list[dict[str, Any]], entries: list[str], ctx: Context,
                 image: str | None) -> tuple[CellMatch | None, dict[str, Any] | None]:
    """The first of ``entries`` with a result for the cell of ``records`` (and ``image``), and that result."""
    testset, noise = records[0].get("testset"), records[0].get("noise")
    match = best_match(ctx.results, entries, testset, noise, image) if testset and noise else None
    if match is None:
        return None, None
    return match, (match.image_scores().get(image) if image else match.summary)


def reproduced_cell(records: list[dict[str, Any]], entries: list[str], ctx: Context, *, shave: bool = False,
                    image: str | None = None) -> str:
    """Reproduced values for the metrics of ``records`` and their differences (reproduced - reported).

    The value comes from the first of ``entries`` that has a result for the cell (see
    :meth:`~denoisebench.tables.loader.EntryResult.match`). Returns :data:`MISSING` when no entry has the cell
    or every metric is absent. Tags: see :func:`result_tags`.
    """
    if not entries or not records:
        return MISSING
    match, source = _find_source(records, entries, ctx, image)
    if match is None or source is None:
        return MISSING
    values, deltas = [], []
    for r in records:
        metric = f"{r['metric']}_shave3" if shave else str(r["metric"])
        value = source.get(metric)
        dec = decimals_of(r["printed"])
        values.append(fmt(value, dec))
        numeric = isinstance(value, (int, float)) and not isinstance(value, bool)
        delta = fmt_delta(value - float(r["value"]), dec) if numeric and not math.isnan(value) else MISSING
        if delta != MISSING:
            copied = COPIED_PHRASE in str(r.get("notes") or "").lower()
            delta += ("\\*" if r.get("suspect") else "") + ("†" if copied else "")
        deltas.append(delta)
    if all(v == MISSING for v in values):
        return MISSING
    text = f"{' / '.join(values)} (Δ {' / '.join(deltas)})"
    return text + result_tags(match, ctx, image=image, show_entry=len(entries) > 1)


def _group(records: list[dict[str, Any]]) -> tuple[list[str], list[tuple[str, str]], dict[tuple, list]]:
    methods = list(dict.fromkeys(r["method"] for r in records))
    conds = list(dict.fromkeys(cond_key(r) for r in records))
    cells: dict[tuple, list] = {}
    for r in records:
        cells.setdefault((r["method"], cond_key(r)), []).append(r)
    return methods, conds, cells


def _method_label(method: str, ctx: Context) -> str:
    """``"Proposed → `a`, `b`"`` for a mapped method, else the method name."""
    entries = ctx.entries(method)
    return f"{method} → {', '.join(f'`{e}`' for e in entries)}" if entries else method


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
                    row.append(reproduced_cell(recs, ctx.entries(m), ctx))
                    if shave:
                        row.append(reproduced_cell(recs, ctx.entries(m), ctx, shave=True))
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
            row.append(reproduced_cell(cells.get((m, c), []), ctx.entries(m), ctx))
            if shave:
                row.append(reproduced_cell(cells.get((m, c), []), ctx.entries(m), ctx, shave=True))
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
            row.append(reproduced_cell(recs, ctx.entries(m), ctx, image=image))
            if shave:
                row.append(reproduced_cell(recs, ctx.entries(m), ctx, shave=True, image=image))
        rows.append(row)
    return table(headers, rows)


def long_table(records: list[dict[str, Any]], ctx: Context) -> str:
    """One row per reported number (numbers quoted in the running text)."""
    rows = [[r["method"], condition_label(r), r["metric"], reported_cell([r], ctx), r.get("unit") or "",
             r.get("notes") or ""] for r in records]
    return table(["Quantity", "Condition", "Metric", "Value", "Unit", "Notes"], rows)


def _extra_conditions(rows: dict[str, list[str]], ctx: Context) -> list[tuple[str, str]]:
    """Sorted (result set, noise label) pairs for which any entry of ``rows`` has a result."""
    found = set()
    for entries in rows.values():
        for name in entries:
            entry = ctx.results.get(name)
            if entry is not None:
                found |= {(t, n) for t, by_noise in entry.metrics.items() for n in by_noise}
    return sorted(found)


def _extra_cell(entries: list[str], cond: tuple[str, str], ctx: Context, shave: bool) -> str:
    """``"PSNR / SSIM [tags]"`` (or the shaved PSNR) of the first of ``entries`` with a result for ``cond``."""
    for name in entries:
        entry = ctx.results.get(name)
        summary = entry.cell(*cond) if entry is not None else None
        if summary is None:
            continue
        text = fmt(summary.get("psnr_shave3"), 2) if shave else \
            f"{fmt(summary.get('psnr'), 2)} / {fmt(summary.get('ssim'), 4)}"
        return text + result_tags(CellMatch(entry, *cond), ctx, show_entry=len(entries) > 1)
    return MISSING


def extra_rows_table(rows: dict[str, list[str]], ctx: Context) -> str:
    """Reproduced rows without a reported counterpart: row labels as rows, (result set, noise) conditions
    for which any listed entry has a result as columns; ``PSNR / SSIM`` (plus shaved PSNR when ``ctx.shave3``).

    A row with several entries takes, per condition, the first entry that has it. Returns ``""`` when no entry
    has a result.
    """
    conds = _extra_conditions(rows, ctx)
    if not conds:
        return ""
    headers = ["Row"]
    for testset, noise in conds:
        headers.append(f"{testset} · {noise} PSNR / SSIM")
        if ctx.shave3:
            headers.append(f"{testset} · {noise} shave3 PSNR")
    body = []
    for label, entries in rows.items():
        row = [f"{label} → {', '.join(f'`{e}`' for e in entries)}"]
        for cond in conds:
            row.append(_extra_cell(entries, cond, ctx, shave=False))
            if ctx.shave3:
                row.append(_extra_cell(entries, cond, ctx, shave=True))
        body.append(row)
    return table(headers, body)

"""``reports/papers/<NNN>.md``: each paper's tables with the reported numbers and, where this benchmark
reproduced a cell, the reproduced value, the difference and the profile/protocol that produced it.

A reported cell is matched with a reproduced one by (paper method -> entry via ``references/method_map.yaml``,
the cell's ``testset`` and ``noise`` label, the metric; for per-image tables also the image id). Inputs are
only ``references/`` and the results tree.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from denoisebench.fsutil import write_text_atomic
from denoisebench.references import load_method_map, load_papers, load_references
from denoisebench.tables.grids import Context, cond_key, condition_label, grid, long_table, per_image_grid
from denoisebench.tables.loader import ResultSet, load_results
from denoisebench.tables.markdown import MISSING, table

#: Per-paper rendering options: 004's code shaves 3 px for PSNR while the paper claims whole images, so its
#: pages show the shaved PSNR beside the whole-image one.
PAPER_OPTIONS: dict[str, dict[str, Any]] = {
    "semantic_denoise": {"shave3": True},
}


def page_name(info: dict[str, Any]) -> str:
    """File name of a paper's page: its number (``"004.md"``)."""
    return f"{info['number']}.md"


def _records(frame: Any) -> list[dict[str, Any]]:
    """DataFrame -> list of dicts with ``None`` for empty cells."""
    return frame.astype(object).where(frame.notna(), None).to_dict("records")


def _status(key: str, mapping: dict[str, str], results: ResultSet, shave3: bool) -> str:
    """The reproduction status block: one row per mapped paper method, plus loud caveats."""
    lines = ["## Reproduction status\n\n"]
    if not mapping:
        lines.append(f"No method of this paper is mapped to a benchmark entry in `references/method_map.yaml` "
                     f"(key `{key}`), so this page shows the reported numbers only.\n")
        return "".join(lines)
    rows, warnings = [], []
    for method, entry_name in mapping.items():
        entry = results.get(entry_name)
        if entry is None:
            rows.append([method, f"`{entry_name}`", "not run yet", MISSING, MISSING, MISSING, MISSING])
            continue
        meta = entry.meta
        protocol = str(meta.get("protocol_text") or "not stated")
        if shave3:
            protocol += f"; shave3 columns: {meta.get('protocol_text_shave3') or 'not stated'}"
        rows.append([method, f"`{entry_name}`", f"`{entry.profile}`", protocol,
                     MISSING if entry.limit_images is None else str(entry.limit_images),
                     "; ".join(entry.choices) or MISSING, str(meta.get("git_rev") or MISSING)[:12]])
        if entry.profile != "paper":
            warnings.append(f"> **⚠ `{entry_name}` ({method}) was produced under the `{entry.profile}` profile: "
                            f"its numbers are NOT a reproduction of the paper's numbers** (reduced data and/or "
                            f"schedules); cells carry the tag `[{entry.profile}]`.\n")
        if entry.limit_images is not None:
            warnings.append(f"> **⚠ `{entry_name}` used at most {entry.limit_images} images per test set "
                            f"(`limit_images`): an average over fewer images than the paper's full set is not "
                            f"comparable**; such cells carry the tag `[n/N img]`.\n")
    lines.append(table(["paper method", "entry", "profile", "protocol", "limit_images", "choices", "git rev"], rows))
    if warnings:
        lines.append("\n" + "\n".join(warnings))
    return "".join(lines)


def _table_section(name: str, records: list[dict[str, Any]], notes: dict[str, str], ctx: Context) -> str:
    """All markdown of one paper table: dataset averages, then per-image sub-tables, then notes."""
    out = [f"## {name}\n\n"]
    metrics = list(dict.fromkeys(f"{r['metric']}" + (f" [{r['unit']}]" if r.get("unit") else "") for r in records))
    if all(r.get("source") == "text" for r in records):
        out.append("Numbers quoted in the running text, as printed.\n\n" + long_table(records, ctx))
    else:
        out.append(f"Cells: {' / '.join(metrics)} as printed in the paper.\n\n")
        images_per_cond: dict[tuple[str, str], set] = {}
        for r in records:
            if r.get("image_id"):
                images_per_cond.setdefault(cond_key(r), set()).add(r["image_id"])
        multi = {c for c, ids in images_per_cond.items() if len(ids) > 1}
        per_image = [r for r in records if r.get("image_id") and cond_key(r) in multi]
        rest = [r for r in records if not (r.get("image_id") and cond_key(r) in multi)]
        averages = [r for r in rest if cond_key(r) in multi]
        if rest:
            if per_image:
                out.append("### Averages\n\n")
            out.append(grid(rest, ctx))
        for cond in dict.fromkeys(cond_key(r) for r in per_image):
            recs = [r for r in per_image if cond_key(r) == cond]
            avg = [r for r in averages if cond_key(r) == cond]
            out.append(f"\n### Per image: {condition_label(recs[0])}\n\n")
            out.append(per_image_grid(recs, avg, ctx))
    out.append(ctx.footnotes())
    if notes.get(name):
        out.append(f"\nTable note (extraction): {notes[name]}\n")
    return "".join(out) + "\n"


def render_paper_page(key: str, info: dict[str, Any], references: Any, mapping: dict[str, str],
                      results: ResultSet) -> str:
    """The markdown of one paper's page."""
    shave3 = bool(PAPER_OPTIONS.get(key, {}).get("shave3"))
    ctx = Context(mapping=mapping, results=results, shave3=shave3)
    records = _records(references)
    head = [f"# {info['number']} · {key}: {info.get('title') or ''}\n\n",
            f"{info.get('venue') or ''}. Seed text: `shared/papers/{info['file']}`; reported numbers: "
            f"`references/{info.get('csv', key + '.csv')}` ({len(records)} numbers).\n\n",
            "How to read: *reported* cells are the paper's printed values (**bold** = the paper's best, _italic_ = "
            "its second best). *Reproduced* cells come from `results/` for methods mapped in "
            "`references/method_map.yaml`: `value (Δ reproduced − reported)`, tagged with the profile when it is "
            "not `paper` and with `n/N img` when fewer images than the full set were used. "
            f"`{MISSING}` = not reproduced (not mapped, not run, or not evaluated on that test set/noise).",
            " The `shave3` columns give PSNR with 3 border pixels cropped (the paper's released code does this; "
            "the paper states whole-image PSNR).\n\n" if shave3 else "\n\n",
            _status(key, mapping, results, shave3), "\n"]
    notes = info.get("table_notes") or {}
    body = []
    order = list(info.get("tables") or dict.fromkeys(r["table"] for r in records))
    for name in order:
        recs = [r for r in records if r["table"] == name]
        if recs:
            body.append(_table_section(name, recs, notes, ctx))
    missing = info.get("missing_tables") or []
    if missing:
        body.append("## Tables missing from the seed text\n\n")
        for item in missing:
            body.append(f"- **{item.get('table')}**: {item.get('caption', '')} ({item.get('status', '')})\n")
            for claim in item.get("text_claims") or []:
                body.append(f"  - claim: {claim}\n")
    return "".join(head + body)


def write_paper_tables(results_dir: str | Path, references_dir: str | Path, out_dir: str | Path) -> list[Path]:
    """Write ``<out_dir>/<NNN>.md`` for every paper in ``references/papers.yaml`` (atomically) and an
    ``index.md``; return the written paths."""
    results = load_results(results_dir)
    papers = load_papers(references_dir)
    method_map = load_method_map(references_dir)
    unknown = sorted(set(method_map) - set(papers))
    if unknown:
        from denoisebench.errors import ConfigError

        raise ConfigError(f"{Path(references_dir) / 'method_map.yaml'}: unknown paper keys {unknown}; "
                          f"valid keys: {', '.join(papers)}")
    out = Path(out_dir)
    written, index_rows = [], []
    for key, info in papers.items():
        refs = load_references(key, references_dir)
        mapping = method_map.get(key, {})
        unknown_methods = sorted(set(mapping) - set(refs["method"]))
        if unknown_methods:
            from denoisebench.errors import ConfigError

            raise ConfigError(f"{Path(references_dir) / 'method_map.yaml'}: {key}: methods {unknown_methods} do not "
                              f"occur in references/{info.get('csv')}; use the names exactly as in its 'method' column")
        path = out / page_name(info)
        write_text_atomic(path, render_paper_page(key, info, refs, mapping, results))
        written.append(path)
        ran = [e for e in mapping.values() if results.get(e) is not None]
        index_rows.append([f"[{info['number']}]({page_name(info)})", key, info.get("title") or "",
                           ", ".join(f"`{e}`" for e in dict.fromkeys(mapping.values())) or MISSING,
                           ", ".join(sorted({results.entries[e].profile for e in ran})) or MISSING])
    index = ("# Papers: reported vs reproduced\n\n"
             + table(["page", "key", "title", "mapped entries", "profiles present"], index_rows))
    write_text_atomic(out / "index.md", index)
    written.append(out / "index.md")
    return written

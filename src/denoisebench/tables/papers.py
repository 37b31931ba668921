"""``reports/papers/<NNN>.md``: each paper's tables with the reported numbers and, where this benchmark
reproduced a cell, the reproduced value, the difference and the profile/protocol that produced it.

A reported cell is matched with a reproduced one by (paper method -> entries via the paper's declaration,
``denoisebench.papers.Paper.method_map``,
the first entry with a result for the cell's ``testset`` (or a crop/subset result set of that dataset) and
``noise`` label (after :data:`~denoisebench.references.NOISE_ALIASES`), the metric; for per-image tables also the
image id). Entries without a reported counterpart (``Paper.extra_rows``) get their own section. Inputs are the
paper declarations (:data:`denoisebench.papers.PAPERS`), their reported numbers and the results tree.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from denoisebench.errors import ConfigError
from denoisebench.fsutil import write_text_atomic
from denoisebench.papers import Paper, all_papers
from denoisebench.references import load_papers, read_reference_csv
from denoisebench.report_figures import figure_links
from denoisebench.tables.cells import PaperCell, paper_cells, status_line
from denoisebench.tables.evidence import SHORT_SCHEDULE, classes_text, evidence_class, tolerance_text
from denoisebench.tables.grids import (
    Context,
    cond_key,
    condition_label,
    extra_rows_table,
    grid,
    long_table,
    per_image_grid,
    result_tags,
)
from denoisebench.tables.loader import EntryResult, ResultSet, load_results
from denoisebench.tables.markdown import MISSING, decimals_of, fmt, fmt_delta, sigma_label, table
from denoisebench.tables.results import limit_text


def page_name(info: dict[str, Any]) -> str:
    """File name of a paper's page: its number (``"004.md"``)."""
    return f"{info['number']}.md"


def _records(frame: Any) -> list[dict[str, Any]]:
    """DataFrame -> list of dicts with ``None`` for empty cells."""
    return frame.astype(object).where(frame.notna(), None).to_dict("records")


SKIP_PREFIX = "not evaluated on "


def _skips(entry: EntryResult) -> dict[str, int]:
    """Skipped cells of an entry, counted per reason (``"trained for AWGN sigma=25 only": 18``)."""
    counts: dict[str, int] = {}
    for choice in entry.choices:
        if choice.startswith(SKIP_PREFIX):
            reason = choice.split(": ", 1)[1] if ": " in choice else "no reason recorded"
            counts[reason] = counts.get(reason, 0) + 1
    return counts


def _entry_names(names: list[str]) -> str:
    return ", ".join(f"`{n}`" for n in dict.fromkeys(names))


def _caveats(entries: list[EntryResult]) -> str:
    """``## Caveats``: each kind once (profile, image subsets, crops, skipped cells), with the entries it hits."""
    profiles: dict[str, list[str]] = {}
    subsets: dict[tuple[str, str, int], list[str]] = {}
    crops: dict[tuple[str, str, int], list[str]] = {}
    overall_limits: dict[int, list[str]] = {}
    skipped: list[str] = []
    for entry in entries:
        if entry.profile != "paper" and evidence_class(entry) is SHORT_SCHEDULE:
            profiles.setdefault(entry.profile, []).append(entry.entry)
        if entry.sets:
            for name, spec in sorted(entry.sets.items()):
                if spec.get("limit_images") is not None:
                    subsets.setdefault((name, str(spec["dataset"]), int(spec["limit_images"])), []).append(entry.entry)
                if spec.get("crop") is not None:
                    crops.setdefault((name, str(spec["dataset"]), int(spec["crop"])), []).append(entry.entry)
        elif entry.limit_images is not None:
            overall_limits.setdefault(int(entry.limit_images), []).append(entry.entry)
        if counts := _skips(entry):
            reasons = "; ".join(f"{n} × {reason}" for reason, n in counts.items())
            skipped.append(f"`{entry.entry}`: {sum(counts.values())} cells ({reasons})")
    lines = []
    for profile, names in profiles.items():
        lines.append(f"- **Profile `{profile}`** (cells tagged `[{profile}]`): these trained entries ran a short "
                     f"schedule, so their numbers are NOT a reproduction of the paper's numbers: "
                     f"{_entry_names(names)}. (Released-weights and classical entries of this profile are judged "
                     f"by the tolerance; their caveat is the image subset, if any.)")
    if subsets or overall_limits:
        parts = [f"`{name}` ({dataset}): {n} image{'' if n == 1 else 's'} — {_entry_names(names)}"
                 for (name, dataset, n), names in subsets.items()]
        parts += [f"at most {n} images per test set — {_entry_names(names)}" for n, names in overall_limits.items()]
        lines.append("- **Image subsets** (cells tagged `[n/N img]`): an average over fewer images than the paper's "
                     "full set is not comparable. " + "; ".join(parts) + ".")
    if crops:
        parts = [f"`{name}` ({dataset}, {c} px) — {_entry_names(names)}" for (name, dataset, c), names in crops.items()]
        lines.append("- **Centre crops** (cells tagged `[crop N]`): not comparable with full-image numbers. "
                     + "; ".join(parts) + ".")
    if skipped:
        lines.append("- **Skipped cells** (the entry was not run on them; `—` in the tables): " + "; ".join(skipped)
                     + ".")
    return "## Caveats\n\n" + ("\n".join(lines) + "\n" if lines else "None: every entry ran the `paper` profile on "
                                                                    "full test sets.\n")


def _status(key: str, mapping: Mapping[str, list[str]], results: ResultSet, shave3: bool) -> str:
    """``## Reproduction status``: one row per (mapped paper method, entry) with its profile, protocol, image
    limits and choices (skipped cells are counted in the caveats, not listed)."""
    rows = []
    for method, entry_names in mapping.items():
        for entry_name in entry_names:
            entry = results.get(entry_name)
            if entry is None:
                rows.append([method, f"`{entry_name}`", "not run yet", MISSING, MISSING, MISSING, MISSING])
                continue
            meta = entry.meta
            protocol = str(meta.get("protocol_text") or "not stated")
            if shave3:
                protocol += f"; shave3 columns: {meta.get('protocol_text_shave3') or 'not stated'}"
            choices = [c for c in entry.choices if not c.startswith(SKIP_PREFIX)]
            if skipped := sum(_skips(entry).values()):
                choices.append(f"{skipped} cells skipped (see Caveats)")
            rows.append([method, f"`{entry_name}`", f"`{entry.profile}`", protocol, limit_text(entry),
                         "; ".join(choices) or MISSING, str(meta.get("git_rev") or MISSING)[:12]])
    return "## Reproduction status\n\n" + table(
        ["paper method", "entry", "profile", "protocol", "limit_images", "choices", "git rev"], rows)


_STATUS_ORDER = {"reproduced": 0, "computed": 1, "missing": 2}


def _evidence_words(cell: PaperCell, paper: Paper) -> str:
    """``"released weights"``, ``"short schedule; code checked against official code"``, or :data:`MISSING`."""
    cls = cell.verdict.cls
    if cls is None:
        return MISSING
    checked = "; code checked against official code" if cell.own and paper.official_checks else ""
    return cls.label + checked


def _summary_row(cell: PaperCell, paper: Paper, ctx: Context) -> list[str]:
    v, dec = cell.verdict, decimals_of(cell.printed)
    how = MISSING
    if v.match is not None:
        how = f"`{v.match.entry.entry}`" + result_tags(v.match, ctx)
    verdict = v.status + (f": {v.why}" if v.why else "")
    return [cell.table, cell.method, f"{cell.dataset}, {sigma_label(cell.degradation) or cell.noise}", cell.metric,
            cell.printed, fmt(v.value, dec), fmt_delta(v.delta, dec), _evidence_words(cell, paper), verdict, how]


def _summary(paper: Paper, records: list[dict[str, Any]], ctx: Context) -> str:
    """``## Summary``: the status line, then per reported average cell of a mapped method the best evidence the
    benchmark has (the paper's own methods first, then the baselines; strongest evidence first), and the methods
    the benchmark does not implement."""
    head = "## Summary\n\n"
    if not paper.method_map:
        return head + "No method of this paper is mapped to a benchmark entry yet: reported numbers only.\n"
    cells = paper_cells(paper, records, ctx.results)
    parts = [head, status_line(cells), "\n\n", tolerance_text(), " ", classes_text(), "\n"]
    headers = ["table", "paper method", "condition", "metric", "reported", "benchmark", "Δ", "evidence", "verdict",
               "entry"]
    shown = [c for c in cells if c.method in paper.method_map]
    order = {id(c): i for i, c in enumerate(shown)}
    for title, own in (("The paper's own method(s)", True), ("Baselines", False)):
        rows = sorted((c for c in shown if c.own == own),
                      key=lambda c: (_STATUS_ORDER[c.verdict.status],
                                     c.verdict.cls.rank if c.verdict.cls else 9, order[id(c)]))
        if rows:
            parts += [f"\n### {title}\n\n", table(headers, [_summary_row(c, paper, ctx) for c in rows])]
    unmapped = Counter(c.method for c in cells if c.method not in paper.method_map)
    if unmapped:
        parts.append("\nNot implemented in the benchmark (their cells count as missing): "
                     + ", ".join(f"{m} ({n} cell{'s' * (n > 1)})" for m, n in unmapped.items()) + ".\n")
    return "".join(parts) + ctx.footnotes()


def _official_section(paper: Paper) -> str:
    """``## Checked against official code``: the declared components, official file, commit, max difference."""
    rows = [[c.component, f"`{c.official}`", f"`{c.commit[:12]}`", c.max_difference, f"`{c.test}`" if c.test else MISSING]
            for c in paper.official_checks]
    return ("## Checked against official code\n\n"
            "Components of this paper's code run beside the authors' official code (`../shared/reference/`) with the "
            "same weights and inputs; rows of the paper's own entries say \"code checked against official code\". "
            "This says the code computes what the authors' code computes; it does not make a short-schedule number "
            "a reproduction.\n\n" + table(["component", "official file", "commit", "max difference", "test"], rows)
            + "\n")


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


def _extra_section(rows: Mapping[str, list[str]], ctx: Context) -> str:
    """``## Additional reproduced rows (no reported counterpart)`` for the declaration's ``extra_rows``."""
    out = ["## Additional reproduced rows (no reported counterpart)\n\n",
           "Benchmark entries listed in the paper's declaration (`extra_rows`): the paper reports no number "
           "for them. Cells: PSNR / SSIM" + (" (and 3-px-shaved PSNR)" if ctx.shave3 else "")
           + " per result set and noise label, with the same tags as the reproduced cells above.\n\n"]
    body = extra_rows_table(dict(rows), ctx)
    out.append(body or "None of the listed entries has results yet.\n")
    not_run = [e for entries in rows.values() for e in entries if ctx.results.get(e) is None]
    if body and not_run:
        out.append(f"\nNot run yet: {', '.join(f'`{e}`' for e in dict.fromkeys(not_run))}.\n")
    out.append(ctx.footnotes())
    return "".join(out) + "\n"


def _links_section(links: Sequence[tuple[str, str]]) -> str:
    """``## Other outputs of this paper``: links to what other stages write for the paper."""
    items = "".join(f"- [{label}]({link})\n" for label, link in links)
    return ("## Other outputs of this paper\n\nWritten by other stages of the pipeline (a link is dead until "
            "that stage has run).\n\n" + items + "\n")


def _missing_tables_section(missing: list[dict[str, Any]]) -> str:
    """``## Tables missing from the seed text`` with captions and the text's claims."""
    body = ["## Tables missing from the seed text\n\n"]
    for item in missing:
        body.append(f"- **{item.get('table')}**: {item.get('caption', '')} ({item.get('status', '')})\n")
        for claim in item.get("text_claims") or []:
            body.append(f"  - claim: {claim}\n")
    return "".join(body)


def _as_lists(mapping: Mapping[str, str | Sequence[str]] | None) -> dict[str, list[str]]:
    """Method -> entry or entries, as method -> list of entries."""
    return {m: [v] if isinstance(v, str) else list(v) for m, v in (mapping or {}).items()}


def _head(key: str, info: dict[str, Any], n_records: int, options: Paper) -> str:
    """Title, sources, how-to-read paragraph and the paper's note."""
    head = [f"# {info['number']} · {key}: {info.get('title') or ''}\n\n",
            (f"{info.get('venue') or ''}. Seed text: `shared/papers/{info['file']}`; reported numbers: "
             f"`{info.get('csv_path') or 'references/' + info.get('csv', key + '.csv')}` ({n_records} numbers).\n\n"),
            ("How to read: *reported* cells are the paper's printed values (**bold** = the paper's best, _italic_ = "
             "its second best). *Reproduced* cells come from `results/` for methods mapped in the paper's "
             "declaration (`PAPER.method_map`; of the listed entries with a result for the cell, the one with the "
             "strongest evidence, see the Summary): `value (Δ reproduced − reported)`, tagged with the entry when a "
             "method lists several, with the profile when it is not `paper`, with `n/N img` when fewer images than "
             "the full set were used and with `crop N` when the result comes from centre crops. "
             f"`{MISSING}` = not reproduced (not mapped, not run, or not evaluated on that test set/noise)."),
            " The `shave3` columns give PSNR with 3 border pixels cropped (the paper's released code does this; "
            "the paper states whole-image PSNR).\n\n" if options.shave3 else "\n\n"]
    if options.note:
        head.append(f"> **Note.** {options.note}\n\n")
    return "".join(head)


def render_paper_page(paper: Paper, info: dict[str, Any], references: Any, results: ResultSet,
                      pages: Path | None = None) -> str:
    """The markdown of one paper's page.

    Args:
        paper: its declaration (mapped entries, extra rows, note, links, shave3).
        info: its ``papers.yaml`` entry (tables, table notes, missing tables, venue), merged over the declaration.
        references: its reported numbers (DataFrame).
        results: the loaded results tree.
        pages: the folder the page is written to (``reports/papers``), for the paper's ``summary_extra``.
    """
    key, options, extra_rows = paper.key, paper, paper.extra_rows
    lists = _as_lists(paper.method_map)
    ctx = Context(mapping=lists, results=results, shave3=options.shave3)
    records = _records(references)
    parts = [_head(key, info, len(records), options), _summary(paper, records, ctx)]
    if paper.summary_extra and pages is not None:
        parts.append(paper.function(paper.summary_extra)(pages, results))
    parts.append("\n")
    if paper.official_checks:
        parts.append(_official_section(paper))
    notes = info.get("table_notes") or {}
    for name in list(info.get("tables") or dict.fromkeys(r["table"] for r in records)):
        recs = [r for r in records if r["table"] == name]
        if recs:
            parts.append(_table_section(name, recs, notes, ctx))
    if extra_rows:
        parts.append(_extra_section(_as_lists(extra_rows), ctx))
    if lists:
        shown = [results.get(e) for e in paper.entries() if results.get(e) is not None]
        parts.append(_caveats(shown) + "\n")
        parts.append(_status(key, lists, results, options.shave3) + "\n")
    if info.get("missing_tables"):
        parts.append(_missing_tables_section(info["missing_tables"]))
    links = (*options.links, *figure_links(paper))
    if links:
        parts.append(("\n" if info.get("missing_tables") else "") + _links_section(links))
    return "".join(parts)


def _check_methods(path: Path, key: str, mapping: Mapping[str, Any], refs: Any, csv: str) -> None:
    """Raise :class:`ConfigError` when ``mapping`` names methods that the paper's csv does not have."""
    unknown = sorted(set(mapping) - set(refs["method"]))
    if unknown:
        raise ConfigError(f"{path}: {key}: method_map names methods {unknown} that do not occur in {csv}; use "
                          f"the names exactly as in its 'method' column")


def _index_row(paper: Paper, info: dict[str, Any], records: list[dict[str, Any]], results: ResultSet) -> list[str]:
    """One row of ``index.md``: page, key, title, the Summary's status line, profiles present."""
    profiles = sorted({results.entries[e].profile for e in paper.entries() if results.get(e) is not None})
    line = status_line(paper_cells(paper, records, results)) if paper.method_map else "no method mapped yet"
    return [f"[{info['number']}]({page_name(info)})", paper.key, info.get("title") or "", line,
            ", ".join(profiles) or MISSING]


def paper_info(paper: Paper, papers_yaml: Mapping[str, Any]) -> dict[str, Any]:
    """The page metadata: the generated ``papers.yaml`` entry (tables, notes, venue) when the paper has one,
    over the declaration's number, title and seed file."""
    declared = {"number": paper.number, "title": paper.title, "file": paper.seed_file,
                "csv": paper.reported or f"{paper.key}.csv"}
    return {**declared, **dict(papers_yaml.get(paper.key) or {})}


def write_paper_tables(results_dir: str | Path, references_dir: str | Path, out_dir: str | Path,
                       unavailable: Mapping[str, str] | None = None) -> list[Path]:
    """Write ``<out_dir>/<NNN>.md`` for every discovered paper (atomically) and an ``index.md``; return the
    written paths (``unavailable``: the test sets the profile leaves out, with reasons, named in the cells).

    Raises:
        ConfigError: a declaration maps methods its paper does not report.
        ResultsFormatError: a results file breaks the contract.
    """
    results = load_results(results_dir, unavailable)
    papers_yaml = load_papers(references_dir)
    out = Path(out_dir)
    written, index_rows = [], []
    for paper in all_papers():
        info = paper_info(paper, papers_yaml)
        csv_path = paper.reported_path(references_dir)
        if csv_path.parent.resolve() != Path(references_dir).resolve():
            info["csv_path"] = csv_path.name
        refs = read_reference_csv(csv_path)
        _check_methods(Path(paper.package.replace(".", "/")), paper.key, paper.method_map, refs, csv_path.name)
        path = out / page_name(info)
        write_text_atomic(path, render_paper_page(paper, info, refs, results, out))
        written.append(path)
        index_rows.append(_index_row(paper, info, _records(refs), results))
    index = ("# Papers: reported vs reproduced\n\n" + tolerance_text() + " " + classes_text() + "\n\n"
             + table(["page", "key", "title", "reported average cells", "profiles present"], index_rows))
    write_text_atomic(out / "index.md", index)
    written.append(out / "index.md")
    return written

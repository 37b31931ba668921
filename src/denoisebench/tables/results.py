"""``reports/results.md``: leaderboards per test set and noise level, from the results tree only."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from denoisebench.fsutil import write_text_atomic
from denoisebench.tables.evidence import evidence_class
from denoisebench.tables.loader import EntryResult, ResultSet, load_results
from denoisebench.tables.markdown import MISSING, fmt, fmt_seconds, is_infinite, is_number, table

FLOOR_METHODS = ("noisy",)

PROFILE_NOTE = (
    "> **Profiles and evidence.** `demo` runs on a few embedded images and `quick` on real test sets with shortened "
    "schedules (and possibly a subset of images). Their numbers check that the pipeline works; **a trained entry's "
    "`demo` or `quick` number is never a reproduction of a paper's number** (evidence *short schedule*). The "
    "`evidence` column says what each row rests on (*paper schedule*, *released weights*, *classical*, *short "
    "schedule*); `reports/papers/` judges each reported cell against its tolerance.\n"
)


def _is_floor(entry: EntryResult) -> bool:
    return entry.entry in FLOOR_METHODS or str(entry.meta.get("method")) in FLOOR_METHODS


def _sort_key(entry: EntryResult, testset: str, noise: str) -> tuple[int, float, str]:
    psnr = (entry.cell(testset, noise) or {}).get("psnr")
    value = float(psnr) if is_number(psnr) or is_infinite(psnr) else float("-inf")
    return (1 if _is_floor(entry) else 0, -value, entry.entry)


def _protocol_key(entry: EntryResult) -> tuple[str, str]:
    meta = entry.meta
    return (str(meta.get("protocol_text") or "not stated"), str(meta.get("protocol_text_shave3") or "not stated"))


def _conditions(results: ResultSet) -> list[tuple[str, str]]:
    found = {(t, n) for e in results.entries.values() for t, by in e.metrics.items() for n in by}
    return sorted(found)


def _train_summary(train: object, limit: int = 6) -> str:
    """``k=v`` for the scalar items of the entry's training summary (at most ``limit``)."""
    if not isinstance(train, dict):
        return str(train) if train else ""
    items = [f"{k}={v}" for k, v in sorted(train.items()) if isinstance(v, (int, float, str, bool))]
    return ", ".join(items[:limit]) + (", ..." if len(items) > limit else "")


def limit_text(entry: EntryResult) -> str:
    """``limit_images`` of an entry for display: per set (``"kodak24_zs: 2, polyu_zs: 1"``) when ``meta.sets``
    is present, else the entry-level value; :data:`MISSING` when there is no limit."""
    if entry.sets:
        limits = [f"{name}: {spec['limit_images']}" for name, spec in sorted(entry.sets.items())
                  if spec.get("limit_images") is not None]
        return ", ".join(limits) or MISSING
    return MISSING if entry.limit_images is None else str(entry.limit_images)


def _entries_table(results: ResultSet) -> str:
    rows = []
    for name in sorted(results.entries):
        e = results.entries[name]
        train_text = _train_summary(e.meta.get("train"))
        rows.append([f"`{name}`", e.meta.get("method", MISSING), e.meta.get("paper", MISSING),
                     e.meta.get("kind", MISSING), f"`{e.profile}`",
                     limit_text(e),
                     train_text or MISSING, str(e.meta.get("git_rev") or MISSING)[:12]])
    return table(["entry", "method", "paper", "kind", "profile", "limit_images", "train", "git rev"], rows)


def _leaderboard(results: ResultSet, testset: str, noise: str) -> str:
    entries = sorted((e for e in results.entries.values() if e.cell(testset, noise) is not None),
                     key=lambda e: _sort_key(e, testset, noise))
    profiles = sorted({e.profile for e in entries})
    protocols: dict[tuple[str, str], str] = {}
    for e in entries:
        protocols.setdefault(_protocol_key(e), "abcdefghijklmnopqrstuvwxyz"[len(protocols) % 26])
    footnotes: list[str] = []
    rows = []
    for rank, e in enumerate(entries, start=1):
        c = e.cell(testset, noise) or {}
        name = f"`{e.entry}`"
        if e.choices:
            footnotes.append(f"[{len(footnotes) + 1}] `{e.entry}`: " + "; ".join(e.choices))
            name += f" [{len(footnotes)}]"
        n = fmt(c.get("n_images"), 0)
        if e.is_subset(testset, noise):
            n += " (subset)"
        rows.append(["floor" if _is_floor(e) else str(rank), name, e.meta.get("method", MISSING),
                     fmt(c.get("psnr"), 2), fmt(c.get("ssim"), 4), fmt(c.get("psnr_shave3"), 2),
                     fmt(c.get("ssim_shave3"), 4), n, fmt_seconds(c.get("sec_per_image")), f"`{e.profile}`",
                     evidence_class(e).label, protocols[_protocol_key(e)]])
    heading = f"### {testset} · {noise}\n\n"
    reduced = [p for p in profiles if p != "paper"]
    caption = (f"Profile: {', '.join(f'`{p}`' for p in profiles)}"
               + (f" (trained rows under {'/'.join(f'`{p}`' for p in reduced)} are **not a reproduction of any "
                  f"paper number**)" if reduced else "")
               + ". Sorted by PSNR; `noisy` (the unprocessed input) is the floor.\n")
    proto_lines = "".join(f"- protocol ({letter}): {whole}; shaved columns: {shaved}\n"
                          for (whole, shaved), letter in protocols.items())
    body = table(["#", "entry", "method", "PSNR (dB)", "SSIM", "PSNR shave3", "SSIM shave3", "images", "s/image",
                  "profile", "evidence", "protocol"], rows, ["r", "l", "l", "r", "r", "r", "r", "r", "r", "l", "l", "l"])
    notes = "".join(f"\n{f}\n" for f in footnotes)
    return heading + caption + "\n" + proto_lines + "\n" + body + notes


def render_results_md(results: ResultSet) -> str:
    """The markdown text of ``reports/results.md``."""
    parts = ["# Benchmark results\n\n",
             ("Generated by `stages/tables.py` from `results/metrics/*.json` and `results/scores/*/` only; "
              "PSNR in dB on the protocol each row names. Per-paper reported-vs-reproduced tables: "
              "`reports/papers/`.\n\n"), PROFILE_NOTE, "\n"]
    if not results.entries:
        parts.append("No results yet: `results/metrics/` holds no entry. Run `dvc repro`.\n")
        return "".join(parts)
    profiles = sorted({e.profile for e in results.entries.values()})
    parts.append(f"Profiles present: {', '.join(f'`{p}`' for p in profiles)}.\n\n")
    if results.unavailable:
        parts.append("Not evaluated in this profile (params `evaluation.<profile>.unavailable`):\n\n" + "".join(
            f"- {name}: {reason}\n" for name, reason in results.unavailable.items()) + "\n")
    parts.append("## Entries\n\n")
    parts.append(_entries_table(results))
    current = None
    for testset, noise in _conditions(results):
        if testset != current:
            parts.append(f"\n## {testset}\n")
            current = testset
        parts.append("\n" + _leaderboard(results, testset, noise))
    return "".join(parts)


def write_results_md(results_dir: str | Path, out_path: str | Path,
                     unavailable: Mapping[str, str] | None = None) -> Path:
    """Write ``reports/results.md`` atomically from ``results_dir`` (``unavailable``: the sets the profile leaves
    out, with reasons); return its path."""
    out = Path(out_path)
    write_text_atomic(out, render_results_md(load_results(results_dir, unavailable)))
    return out

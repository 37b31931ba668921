"""Results of a short GPU window (``benchmarks/gpu_window.py``) as table rows, from the committed ``windows/``.

``denoisebench window import $OUT`` (:mod:`denoisebench.window_import`) copies a window's small files to
``windows/<name>/``: ``provenance.json`` (GPU, CUDA, torch, commit, start, each job's wall time and schedule),
``scores/<entry>.json`` (per-cell means), ``scores/<entry>.csv`` (per-image rows) and ``window.json`` (the import:
each entry's method, paper, kind, protocols and test-set descriptions, taken from the importing checkout).

Each imported job becomes one :class:`~denoisebench.tables.loader.EntryResult` named ``<entry>@<window>``, beside
(never instead of) the pipeline's ``<entry>``: profile ``paper``, evidence class *GPU window*
(:data:`~denoisebench.tables.evidence.GPU_WINDOW`), the window's provenance in ``meta["window"]``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from denoisebench.tables.loader import EntryResult, ResultsFormatError, ResultSet

#: Separator of a window row's name: ``<entry>@<window name>``.
SEPARATOR = "@"
WINDOW_FILE = "window.json"
PROVENANCE_FILE = "provenance.json"


def _read(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ResultsFormatError(f"{path} is missing; re-import the window with `denoisebench window import`") from exc
    except json.JSONDecodeError as exc:
        raise ResultsFormatError(f"{path} is not valid JSON ({exc}); re-import the window") from exc


def provenance_of(info: dict[str, Any], job: dict[str, Any], name: str) -> dict[str, Any]:
    """What a window row shows of where it comes from: GPU (or the device), CUDA/torch, commit and dirty flag,
    start time, the job's wall time, its schedule and steps."""
    return {"name": name, "entry": job["entry"], "device": info.get("device"), "gpu": info.get("gpu"),
            "cuda": info.get("cuda"), "torch": info.get("torch"), "commit": info.get("commit"),
            "dirty": bool(info.get("dirty")), "started": info.get("started"), "wall_s": job.get("wall_s"),
            "train_s": job.get("train_s"), "steps": job.get("steps"), "schedule": job.get("schedule"),
            "allow_cpu": bool(info.get("allow_cpu"))}


def _metrics(path: Path, cells: dict[str, Any]) -> dict[str, dict[str, dict[str, float]]]:
    """``scores/<entry>.json`` (``{"<set>/<noise>": {psnr, ..., n_images, seconds}}``) in the results contract's
    shape, with seconds per image."""
    out: dict[str, dict[str, dict[str, float]]] = {}
    if not isinstance(cells, dict):
        raise ResultsFormatError(f"{path}: must be an object of '<set>/<noise>' -> metrics")
    for key, values in cells.items():
        testset, _, noise = str(key).partition("/")
        if not noise or not isinstance(values, dict) or "psnr" not in values or "n_images" not in values:
            raise ResultsFormatError(f"{path}: [{key!r}] must be '<set>/<noise>' -> {{psnr, ..., n_images}}")
        row = {k: v for k, v in values.items() if k != "seconds"}
        seconds, n = values.get("seconds"), values["n_images"]
        row["sec_per_image"] = float(seconds) / n if isinstance(seconds, (int, float)) and n else None
        out.setdefault(testset, {})[noise] = row
    return out


def _per_image(path: Path) -> Any:
    import pandas as pd

    if not path.is_file():
        return None
    frame = pd.read_csv(path, dtype={"image": str, "cell": str})
    if "cell" not in frame.columns or "image" not in frame.columns or "psnr" not in frame.columns:
        raise ResultsFormatError(f"{path} lacks columns cell, image or psnr (gpu_window.py writes them)")
    split = frame["cell"].str.partition("/")
    return frame.assign(testset=split[0], noise=split[2]).drop(columns=["cell"])


def load_window(folder: Path) -> list[EntryResult]:
    """The rows of one imported window folder (one per imported job)."""
    info, record = _read(folder / PROVENANCE_FILE), _read(folder / WINDOW_FILE)
    name = str(record.get("name") or folder.name)
    jobs = {job.get("entry"): job for job in info.get("jobs") or [] if isinstance(job, dict)}
    rows = []
    for entry, described in sorted((record.get("entries") or {}).items()):
        job = jobs.get(entry)
        if job is None or job.get("status") != "ok":
            raise ResultsFormatError(f"{folder / WINDOW_FILE} lists {entry!r}, which {folder / PROVENANCE_FILE} "
                                     f"has no ok job for; re-import the window")
        scores = folder / "scores" / f"{entry}.json"
        metrics = _metrics(scores, _read(scores))
        provenance = provenance_of({**info, "allow_cpu": record.get("allow_cpu")}, job, name)
        meta = {**described, "entry": f"{entry}{SEPARATOR}{name}", "profile": "paper", "window": provenance,
                "sets": {s: spec for s, spec in (described.get("sets") or {}).items() if s in metrics},
                "choices": [*(described.get("choices") or []),
                            *(f"not evaluated on {k}: {v}" for k, v in sorted((job.get("skipped") or {}).items()))],
                "limit_images": None, "git_rev": info.get("commit"),
                "train": {k: v for k, v in (("steps", job.get("steps")), ("train_s", job.get("train_s")),
                                            ("wall_s", job.get("wall_s"))) if v is not None}}
        rows.append(EntryResult(meta["entry"], meta, metrics, _per_image(folder / "scores" / f"{entry}.csv"),
                                scores))
    return rows


def load_windows(windows_dir: str | Path | None) -> list[EntryResult]:
    """Every imported window's rows (``windows/*/`` with a ``window.json``; none when the folder is absent)."""
    if windows_dir is None or not Path(windows_dir).is_dir():
        return []
    return [row for folder in sorted(Path(windows_dir).iterdir())
            if not folder.name.startswith(".") and (folder / WINDOW_FILE).is_file()
            for row in load_window(folder)]


def add_windows(results: ResultSet, windows_dir: str | Path | None) -> ResultSet:
    """``results`` with every window row added under its own name (a pipeline entry is never replaced)."""
    for row in load_windows(windows_dir):
        if row.entry in results.entries:
            raise ResultsFormatError(f"{row.metrics_path}: window row {row.entry!r} is already a result name")
        results.entries[row.entry] = row
    return results


def window_of(entry: EntryResult) -> dict[str, Any] | None:
    """The window provenance of a row, or ``None`` for the pipeline's own rows."""
    window = entry.meta.get("window")
    return window if isinstance(window, dict) else None


def with_windows(results: ResultSet, names: Iterable[str]) -> list[str]:
    """``names`` with each entry's window rows right after it (the rows a paper's mapping reaches)."""
    by_entry: dict[str, list[str]] = {}
    for name, entry in sorted(results.entries.items()):
        if (window := window_of(entry)) is not None:
            by_entry.setdefault(str(window["entry"]), []).append(name)
    return list(dict.fromkeys(n for name in names for n in (name, *by_entry.get(name, []))))


def device_text(window: dict[str, Any]) -> str:
    """``"NVIDIA H100 80GB HBM3"`` or, for an ``--allow-cpu`` test import, ``"CPU (test import)"``."""
    if window.get("gpu"):
        return str(window["gpu"])
    return f"{str(window.get('device') or 'cpu').upper()} (test import, not a GPU)"


def window_label(window: dict[str, Any]) -> str:
    """``"NVIDIA H100 80GB HBM3 2026-12-06 @abc1234"`` (``+dirty`` when the tree had local changes)."""
    commit = str(window.get("commit") or "unknown")[:7] + ("+dirty" if window.get("dirty") else "")
    return f"{device_text(window)} {str(window.get('started') or '')[:10]} @{commit}".replace("  ", " ")


def _seconds(value: Any) -> str:
    return f"{float(value):.0f} s" if isinstance(value, (int, float)) else "—"


def _schedule(window: dict[str, Any]) -> str:
    schedule = window.get("schedule")
    if not isinstance(schedule, dict):
        return "no training (zero-shot or classical)"
    items = [f"{k}={v}" for k, v in sorted(schedule.items()) if isinstance(v, (int, float, str, bool))]
    steps = f"{window['steps']} steps; " if window.get("steps") is not None else ""
    return steps + ", ".join(items)


def provenance_table(entries: Iterable[EntryResult]) -> str:
    """Markdown table of the window rows among ``entries`` with their provenance (``""`` when none)."""
    from denoisebench.tables.markdown import table

    rows = []
    for entry in entries:
        if (w := window_of(entry)) is None:
            continue
        runtime = ", ".join(f"{k} {w[k]}" for k in ("cuda", "torch") if w.get(k)) if w.get("gpu") else (
            f"torch {w.get('torch')}")
        commit = f"`{str(w.get('commit') or 'unknown')[:12]}`" + (" (dirty tree)" if w.get("dirty") else "")
        rows.append([f"`{entry.entry}`", device_text(w), runtime, commit, str(w.get("started") or "—"),
                     _seconds(w.get("wall_s")), _schedule(w)])
    if not rows:
        return ""
    return table(["row", "device", "CUDA / torch", "commit", "started (UTC)", "job wall time", "schedule / steps"],
                 rows)

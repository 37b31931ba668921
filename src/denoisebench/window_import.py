"""Import a GPU window's returned files (``benchmarks/gpu_window.py --out $OUT``) into the committed ``windows/``.

Only the small files travel: ``provenance.json``, ``gpu_check.json`` (when present) and per ok job
``scores/<entry>.json`` and ``scores/<entry>.csv``; never models, checkpoints, noisy images or predictions.
``window.json`` records the import: its name, when, from which checkout, and per entry what the tables need that the
window does not write (method, paper, kind, choices, the score protocols' texts, the paper profile's test-set
descriptions), taken from this checkout's ``params.yaml`` at the ``paper`` profile.

Refused with one :class:`WindowImportError` naming the reason (the CLI prints ``error: ...``, exit 2): a ``--tiny``
(rehearsal) window, a window not run on CUDA (unless ``allow_cpu``, for tests, whose rows say so), missing or
unreadable files, an existing destination. Jobs whose status is not ``ok`` are left out and named
(:attr:`Imported.left_out`); the ok ones are imported.
"""

from __future__ import annotations

import json
import re
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from denoisebench.errors import DenoiseBenchError
from denoisebench.tables.windows import PROVENANCE_FILE, WINDOW_FILE

CHECK_FILE = "gpu_check.json"


class WindowImportError(DenoiseBenchError):
    """A GPU window folder that cannot be imported."""


@dataclass(frozen=True)
class Imported:
    """The result of an import: the folder written, the entries imported, the jobs left out (entry -> why)."""

    folder: Path
    entries: tuple[str, ...]
    left_out: dict[str, str]


def _provenance(out: Path) -> dict[str, Any]:
    path = out / PROVENANCE_FILE
    if not path.is_file():
        raise WindowImportError(f"{path} is missing: {out} is not a finished gpu_window.py output folder "
                                f"(give the $OUT folder it wrote)")
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise WindowImportError(f"{path} is not valid JSON ({exc}); the window was cut off while writing it") from exc
    missing = [k for k in ("commit", "device", "started", "jobs") if k not in info] if isinstance(info, dict) else [
        "an object"]
    if missing:
        raise WindowImportError(f"{path} lacks {', '.join(missing)}; it was not written by benchmarks/gpu_window.py")
    return info


def slug(text: str) -> str:
    """``"NVIDIA H100 80GB HBM3"`` -> ``"nvidia-h100-80gb-hbm3"``."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "unknown"


def default_name(info: dict[str, Any]) -> str:
    """``<date>-<gpu slug>-<commit[:7]>`` (``cpu`` for the slug of an ``--allow-cpu`` import)."""
    return f"{str(info['started'])[:10]}-{slug(str(info.get('gpu') or info['device']))}-{str(info['commit'])[:7]}"


def check_window(out: Path, info: dict[str, Any], allow_cpu: bool) -> None:
    """Refuse a rehearsal window and, unless ``allow_cpu``, one that did not run on a CUDA GPU."""
    where = out / PROVENANCE_FILE
    if info.get("tiny"):
        raise WindowImportError(f"{where}: a --tiny (rehearsal) window: 2 steps, 1 image and 48 px crops are not the "
                                f"paper's settings, so it has no row in the tables; rerun gpu_window.py without --tiny "
                                f"on a GPU")
    if not str(info["device"]).startswith("cuda") or not info.get("gpu"):
        if not allow_cpu:
            raise WindowImportError(f"{where}: device {info['device']!r} is not a CUDA GPU; a window's rows claim GPU "
                                    f"provenance (only tests import a CPU run, with --allow-cpu)")
    if not info.get("commit"):
        raise WindowImportError(f"{where}: no git commit recorded; a row without the commit it ran has no provenance")


def _describe(params: dict[str, Any], entry: str) -> dict[str, Any]:
    """What the tables need of ``entry`` that the window does not write, from this checkout at the paper profile."""
    from denoisebench.config import method_entry, section, set_descriptions
    from denoisebench.methods import METHODS
    from denoisebench.metrics import resolve_protocol

    spec = method_entry(params, entry)
    method = METHODS.get(spec.method)
    protocols = {name: resolve_protocol(p) for name, p in section(params, "score", "protocols").items()}
    return {"method": spec.method, "paper": method.paper, "kind": method.kind, "config": spec.config,
            "choices": list(method.choices), "protocol": protocols["default"].to_dict(),
            "protocol_text": protocols["default"].describe(),
            **{f"protocol_text_{name}": p.describe() for name, p in protocols.items() if name != "default"},
            "sets": set_descriptions(params)}


def _job_files(out: Path, job: dict[str, Any]) -> list[Path]:
    """The score files an ok job must have returned (the csv only when it scored a cell)."""
    entry = str(job["entry"])
    files = [out / "scores" / f"{entry}.json"]
    if job.get("cells"):
        files.append(out / "scores" / f"{entry}.csv")
    return files


def import_window(out: str | Path, windows: str | Path, params_file: str | Path, name: str | None = None,
                  allow_cpu: bool = False) -> Imported:
    """Copy the window ``out``'s small files to ``<windows>/<name>/`` (atomically) with its ``window.json``.

    Raises:
        WindowImportError: see the module docstring; nothing is written.
    """
    from denoisebench.config import load_params
    from denoisebench.fsutil import atomic_dir, write_json_atomic

    out = Path(out)
    if not out.is_dir():
        raise WindowImportError(f"{out} is not a folder; give the $OUT folder gpu_window.py wrote")
    info = _provenance(out)
    check_window(out, info, allow_cpu)
    jobs = [j for j in info["jobs"] if isinstance(j, dict) and j.get("entry")]
    ok = [j for j in jobs if j.get("status") == "ok"]
    left_out = {str(j["entry"]): f"{j.get('status')}: {j.get('error') or j.get('reason') or 'no reason recorded'}"
                for j in jobs if j.get("status") != "ok"}
    if not ok:
        why = "; ".join(f"{e} ({w})" for e, w in left_out.items()) or "it lists no job"
        raise WindowImportError(f"{out / PROVENANCE_FILE}: no job finished ok, nothing to import: {why}")
    missing = [str(p) for j in ok for p in _job_files(out, j) if not p.is_file()]
    if missing:
        raise WindowImportError(f"{out}: missing {', '.join(missing)}; the window was cut off before writing them "
                                f"(rerun its job)")
    name = name or default_name(info)
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", name):
        raise WindowImportError(f"--name {name!r}: use letters, digits, '.', '_' and '-' only")
    target = Path(windows) / name
    if target.exists():
        raise WindowImportError(f"{target} already exists: that window is imported (give --name to import it "
                                f"again under another name, or remove the folder)")
    params = load_params(params_file)
    params.update(profile="paper", rehearsal=False)  # the settings gpu_window.py ran (window_params)
    entries = {str(j["entry"]): _describe(params, str(j["entry"])) for j in ok}
    with atomic_dir(target) as tmp:
        (tmp / "scores").mkdir()
        shutil.copy2(out / PROVENANCE_FILE, tmp / PROVENANCE_FILE)
        if (out / CHECK_FILE).is_file():
            shutil.copy2(out / CHECK_FILE, tmp / CHECK_FILE)
        for job in ok:
            for path in _job_files(out, job):
                shutil.copy2(path, tmp / "scores" / path.name)
        write_json_atomic(tmp / WINDOW_FILE, {
            "name": name, "imported": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "source": str(out),
            "allow_cpu": allow_cpu, "left_out": left_out, "entries": entries})
    return Imported(target, tuple(entries), left_out)

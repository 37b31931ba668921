"""Preflight: every dataset and released model a profile needs, where each comes from, and what is missing.

Run before anything is downloaded or trained (``denoisebench preflight --profile paper``, and first thing in the
download stage): one table of present / mirror / download / missing items with their sizes, sources and, where
there is no URL, how to place them by hand; a non-zero exit naming every missing item at once. Nothing is
downloaded or hashed here (the download stage verifies every byte); presence means every declared file exists.

Status of an item:

- ``present``: every file is under the data root (``data.root``, released models under ``<root>/weights``);
- ``mirror``: every file not present is in the offline mirror (copied and verified by the download stage);
- ``download``: some file is in neither place but has a URL (fetched by the download stage; with ``offline``
  such an item counts as missing);
- ``missing``: some file is in neither place and has no URL: it must be placed by hand (the ``how`` column);
- ``unavailable``: a set the profile lists under ``evaluation.<profile>.unavailable`` (``{name, dataset, reason}``):
  not evaluated in this profile, for the stated reason (the quick profile's SIDD and RENOIR, which no offline
  mirror holds); listed so that a profile never leaves a set out silently. Never fatal.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from denoisebench.config import data_mirror, data_root, evaluation_plan
from denoisebench.errors import DatasetError
from denoisebench.stage_support import datasets_needed, pretrained_needed, training_sets

STATUSES = ("present", "mirror", "download", "missing", "unavailable")
#: Set to 1 to make the download stage's preflight count URL-only items as missing (a machine without network).
OFFLINE_ENV = "DENOISEBENCH_OFFLINE"


@dataclass(frozen=True)
class Item:
    """One dataset or released model the profile needs (a row of the preflight table)."""

    kind: str  # "dataset" or "pretrained"
    name: str
    used_by: str
    status: str
    size: int | None  # bytes of the files that are found (data root or mirror); None when none is
    source: str
    how: str = ""

    def missing(self, offline: bool) -> bool:
        """Whether the download stage could not obtain it (``offline``: URLs do not count)."""
        return self.status == "missing" or (offline and self.status == "download")


def _size(paths: Iterable[Path]) -> int | None:
    sizes = [p.stat().st_size for p in paths if p.is_file()]
    return sum(sizes) if sizes else None


def _hosts(urls: Iterable[str]) -> str:
    return ", ".join(sorted({urlparse(u).netloc or u for u in urls}))


def _status(files: list[tuple[Path, Path | None, str | None]]) -> tuple[str, int | None, list[str]]:
    """(status, size of the found files, URLs still needed) of (local path, mirror path, url) triples."""
    found, urls, unobtainable = [], [], False
    mirrored = False
    for local, mirror, url in files:
        if local.is_file():
            found.append(local)
        elif mirror is not None and mirror.is_file():
            found.append(mirror)
            mirrored = True
        elif url:
            urls.append(url)
        else:
            unobtainable = True
    status = ("missing" if unobtainable else "download" if urls else "mirror" if mirrored else "present")
    return status, _size(found), urls


def _dataset_item(name: str, used_by: str, root: Path, mirror: Path | None,
                  sources: dict[str, dict[str, Any]]) -> Item:
    from denoisebench.sources import sourced_spec

    spec = sourced_spec(name, sources)  # data.sources re-bases some sets (a lab mirror, a rehearsal's fixtures)
    if spec.kind == "bundled":
        from denoisebench.datasets.demo import skimage_data_dir

        base = skimage_data_dir()
        status, size, _ = _status([(base / f.path, None, None) for f in spec.files])
        how = "" if status == "present" else "reinstall scikit-image (the images ship inside it)"
        return Item("dataset", name, used_by, status, size, "scikit-image (bundled)", how)
    local = root / spec.folder
    status, size, urls = _status([(local / f.path, mirror / spec.folder / f.path if mirror else None, f.url)
                                  for f in spec.files])
    source = {"present": str(local), "mirror": f"mirror {mirror / spec.folder if mirror else ''}",
              "download": f"URL {_hosts(urls)} ({len(urls)} files)", "missing": "no URL"}[status]
    files = ", ".join(f.path for f in spec.files[:3]) + (f" ... ({len(spec.files)} files)" if len(spec.files) > 3
                                                          else "")
    how = "" if status in ("present", "mirror") else f"{files} from {spec.homepage} into {local}/ (or a mirror's {spec.folder}/)"
    return Item("dataset", name, used_by, status, size, source, how)


def _pretrained_item(name: str, used_by: str, root: Path, mirror: Path | None) -> Item:
    from denoisebench.pretrained import PRETRAINED
    from denoisebench.pretrained.fetch import WEIGHTS_SUBDIR, weights_path

    spec = PRETRAINED.get(name)
    local = weights_path(spec, root / WEIGHTS_SUBDIR)
    status, size, urls = _status([(local, mirror / spec.local if mirror else None, spec.url)])
    source = {"present": str(local), "mirror": f"mirror {mirror}", "download": f"URL {_hosts(urls)}",
              "missing": "no URL"}[status]
    how = "" if status in ("present", "mirror") else f"put {spec.url} at {local} (or a weights mirror's {spec.local})"
    return Item("pretrained", name, used_by, status, size, source, how)


def _users(params: dict[str, Any]) -> dict[str, list[str]]:
    """Dataset name -> what reads it (test-set names, ``training``, ``camera noise``)."""
    users: dict[str, list[str]] = {}
    for cell in evaluation_plan(params):
        names = users.setdefault(cell.dataset, [])
        if cell.testset not in names:
            names.append(cell.testset)
    for name in training_sets(params):
        users.setdefault(name, []).append("training")
    return users


def preflight(params: dict[str, Any], repo_root: Path | None = None) -> list[Item]:
    """Every dataset and released model the active profile of ``params`` needs, with its status (``data.root``
    relative to ``repo_root``, default the working directory)."""
    from denoisebench.pretrained import weights_mirror
    from denoisebench.sources import load_sources

    root = data_root(params, repo_root)
    sources = load_sources(params, repo_root)
    mirror, wmirror = data_mirror(params), weights_mirror(params=params)
    users = _users(params)
    items = [_dataset_item(name, ", ".join(users.get(name, ["camera-pipeline noise"])), root, mirror,
                           sources) for name in datasets_needed(params)]
    pretrained_users: dict[str, list[str]] = {}
    from denoisebench.config import method_entries, method_entry, not_run_reason

    for entry in method_entries(params):
        if not_run_reason(params, entry) is None:
            spec = method_entry(params, entry)
            if spec.method == "pretrained":
                pretrained_users.setdefault(str(spec.config.get("model")), []).append(entry)
    items += [_pretrained_item(name, ", ".join(pretrained_users.get(name, [])), root, wmirror)
              for name in pretrained_needed(params)]
    return items + unavailable_sets(params)


def unavailable_sets(params: dict[str, Any]) -> list[Item]:
    """The sets ``evaluation.<profile>.unavailable`` declares left out of the profile, with their reasons."""
    from denoisebench.config import active_profile
    from denoisebench.errors import ConfigError

    profile = active_profile(params)
    listed = ((params.get("evaluation") or {}).get(profile) or {}).get("unavailable") or []
    items = []
    for i, entry in enumerate(listed):
        if not isinstance(entry, dict) or not {"name", "dataset", "reason"} <= set(entry):
            raise ConfigError(f"params.yaml: evaluation.{profile}.unavailable[{i}]={entry!r} needs name, dataset "
                              "and reason keys")
        items.append(Item("dataset", str(entry["dataset"]), str(entry["name"]), "unavailable", None,
                          f"not in profile {profile}", str(entry["reason"])))
    return items


def _fmt_size(size: int | None) -> str:
    if size is None:
        return "?"
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000  # type: ignore[assignment]
    return "?"


def format_table(items: list[Item], offline: bool = False) -> str:
    """The preflight table (plain text, one row per item; ``how`` only where there is something to do)."""
    rows = [("kind", "name", "status", "size", "source", "used by")]
    for it in items:
        status = "MISSING" if it.missing(offline) else it.status
        rows.append((it.kind, it.name, status, _fmt_size(it.size), it.source, it.used_by))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r[:-1], widths)) + "  " + r[-1] for r in rows]
    todo = [it for it in items if it.how and it.missing(offline)] + [
        it for it in items if it.how and not it.missing(offline) and it.status != "unavailable"]
    left_out = [it for it in items if it.status == "unavailable"]
    if todo:
        lines += ["", "to place by hand (where no mirror has it" + (", and URLs are not used offline)" if offline
                                                                      else "; URLs are fetched by the download stage)")]
        lines += [f"  {it.name}: {it.how}" for it in todo]
    if left_out:
        lines += ["", "not evaluated in this profile"] + [f"  {it.used_by} ({it.name}): {it.how}" for it in left_out]
    return "\n".join(lines)


def check(items: list[Item], offline: bool = False) -> None:
    """Raise one DatasetError naming every missing item (and the fix), or return when all can be obtained."""
    missing = [it.name for it in items if it.missing(offline)]
    if missing:
        raise DatasetError(f"preflight: {len(missing)} of {len(items)} items needed by this profile cannot be "
                           f"obtained{' offline' if offline else ''}: {', '.join(missing)}; place them as the "
                           "table says (or set data.mirror / $DENOISEBENCH_MIRROR to a folder holding them)")

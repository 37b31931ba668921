"""Other sources for datasets: params ``data.sources``, a YAML/JSON file that re-bases datasets on another server.

    # data.sources: sources.yaml (relative to the repository root, or absolute)
    cbsd68: {base_url: "http://mirror.lab:8000/CBSD68"}              # a lab's HTTP mirror: same files, same hashes
    did_mdn_test:                                                       # rehearsal fixtures: other files, other hashes
      base_url: "http://127.0.0.1:8765/DID-MDN"
      files: [{path: DID-MDN-datasets.zip, sha256: "9f...", size: 123456}]

Each listed dataset's files are fetched from ``<base_url>/<path>`` instead of their declared URL (a file the data
mirror holds is still copied from the mirror). ``files`` replaces the declared file list with other bytes (each
path must be a declared one; it keeps its declared archive flag) and is accepted only with ``rehearsal: true``:
outside a rehearsal every byte must match the published hashes. Read by the download stage and the preflight only;
the downstream stages see the fetched data by content (``data/raw``), so a changed source cannot go unnoticed.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import yaml

from denoisebench.config import rehearsal
from denoisebench.errors import ConfigError

SOURCE_KEYS = ("base_url", "files")
FILE_KEYS = ("path", "sha256", "size")


def sources_file(params: dict[str, Any], repo_root: Path | None = None) -> Path | None:
    """The ``data.sources`` file, or None when unset; a set but missing file is a ConfigError naming it."""
    value = (params.get("data") or {}).get("sources")
    if value in (None, ""):
        return None
    path = Path(str(value))
    path = path if path.is_absolute() else (repo_root or Path.cwd()) / path
    if not path.is_file():
        raise ConfigError(f"params.yaml: data.sources={value!r}: no such file ({path}); give a YAML/JSON file "
                          "mapping dataset names to {base_url, files} or set data.sources to null")
    return path


def load_sources(params: dict[str, Any], repo_root: Path | None = None) -> dict[str, dict[str, Any]]:
    """The validated ``data.sources`` mapping (empty when unset)."""
    path = sources_file(params, repo_root)
    if path is None:
        return {}
    try:
        sources = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML/JSON ({exc})") from None
    if not isinstance(sources, dict):
        raise ConfigError(f"{path}: expected a mapping of dataset names to {{base_url, files}}")
    for name, source in sources.items():
        where = f"{path}: {name}"
        if not isinstance(source, dict) or not isinstance(source.get("base_url"), str):
            raise ConfigError(f"{where}: needs a base_url string (e.g. http://host:port/<folder>)")
        if set(source) - set(SOURCE_KEYS):
            raise ConfigError(f"{where}: unknown keys {sorted(set(source) - set(SOURCE_KEYS))}; allowed: "
                              f"{', '.join(SOURCE_KEYS)}")
        if "files" in source:
            if not rehearsal(params):
                raise ConfigError(f"{where}: 'files' replaces the published hashes and is accepted only in a "
                                  "rehearsal (-S rehearsal=true); a mirror of the real files needs base_url alone")
            files = source["files"]
            if not isinstance(files, list) or not files or not all(
                    isinstance(f, dict) and set(f) == set(FILE_KEYS) for f in files):
                raise ConfigError(f"{where}: files must be a non-empty list of {{path, sha256, size}} mappings")
    return sources


def sourced_spec(name: str, sources: dict[str, dict[str, Any]]) -> Any:
    """The registered spec of ``name``, re-based (and given other files) when ``sources`` lists it."""
    from denoisebench.datasets.fetch import get_spec

    spec = get_spec(name)
    source = sources.get(name)
    if source is None:
        return spec
    if "files" in source:
        declared = {f.path: f for f in spec.files}
        unknown = [f["path"] for f in source["files"] if f["path"] not in declared]
        if unknown:
            raise ConfigError(f"data.sources: {name}: {unknown[0]!r} is not a file of the dataset; declared: "
                              f"{', '.join(list(declared)[:5])}{' ...' if len(declared) > 5 else ''}")
        spec = spec.with_files(tuple(dataclasses.replace(declared[f["path"]], sha256=str(f["sha256"]).lower(),
                                                         size=int(f["size"])) for f in source["files"]))
    if not any(f.url for f in spec.files):  # sets published without a URL (placed by hand) get one from the source
        spec = spec.with_files(tuple(dataclasses.replace(f, url="") for f in spec.files))
    return spec.with_base_url(source["base_url"])

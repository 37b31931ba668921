"""Fetching released models: mirror first, then the official URL at the pinned commit; sha256 always checked.

The mirror is, in order: the ``mirror`` argument, params ``data.weights_mirror``, ``$DENOISEBENCH_WEIGHTS``, or
the ``weights/`` folder beside the data mirror as :mod:`denoisebench.mirror` finds it (``../shared/data`` beside the
checkout, ``data.mirror``, ``$DENOISEBENCH_MIRROR``: ``.../shared/data`` -> ``.../shared/weights``). Files go to
``<root>/<spec.local>`` (the pipeline's root is ``data/raw/weights``).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

from denoisebench.datasets.download import DEFAULT_TIMEOUT, download
from denoisebench.errors import ChecksumMismatchError, DatasetError
from denoisebench.fsutil import atomic_path, sha256_file
from denoisebench.mirror import MIRROR_ENV
from denoisebench.pretrained.catalog import PRETRAINED, PretrainedSpec

WEIGHTS_ENV = "DENOISEBENCH_WEIGHTS"
#: Where the pipeline keeps fetched weights (under data.root).
WEIGHTS_SUBDIR = "weights"


def weights_mirror(mirror: str | os.PathLike[str] | None = None, params: dict[str, Any] | None = None) -> Path | None:
    """The weights mirror folder (see module docstring), or None when none is found."""
    from denoisebench.mirror import shared_mirror_root

    configured = mirror or ((params or {}).get("data") or {}).get("weights_mirror") or os.environ.get(WEIGHTS_ENV)
    if configured:
        return Path(configured)
    shared = shared_mirror_root(params)
    return shared / WEIGHTS_SUBDIR if shared is not None else None


def weights_path(name: str | PretrainedSpec, root: str | os.PathLike[str]) -> Path:
    """Where the model's file lives under ``root`` (not fetched)."""
    spec = name if isinstance(name, PretrainedSpec) else PRETRAINED.get(name)
    return Path(root) / spec.local


def _check(spec: PretrainedSpec, file: Path, origin: str, fix: str) -> None:
    actual = sha256_file(file)
    if actual != spec.sha256:
        raise ChecksumMismatchError(f"pretrained {spec.name}: sha256 mismatch for {origin}: expected {spec.sha256}, "
                                    f"actual {actual}; the file was not kept. Fix: {fix}")


def fetch_weights(name: str | PretrainedSpec, root: str | os.PathLike[str],
                  mirror: str | os.PathLike[str] | None = None, *, allow_download: bool = True,
                  timeout: float = DEFAULT_TIMEOUT, progress: bool = False) -> Path:
    """Make ``<root>/<spec.local>`` present and verified; return its path.

    Raises:
        DatasetError: not in the mirror and downloads disabled or failing (names mirror path and URL).
        ChecksumMismatchError: a copied or downloaded file has another sha256.
    """
    spec = name if isinstance(name, PretrainedSpec) else PRETRAINED.get(name)
    target = weights_path(spec, root)
    if target.is_file():
        if sha256_file(target) == spec.sha256:
            return target
        target.unlink()
    target.parent.mkdir(parents=True, exist_ok=True)
    folder = weights_mirror(mirror)
    source = folder / spec.local if folder is not None else None
    if source is not None and source.is_file():
        with atomic_path(target) as tmp:
            shutil.copyfile(source, tmp)
            _check(spec, tmp, f"mirror file {source}", f"restore {source} from {spec.url}")
        return target
    tried = f"mirror file {source} (absent)" if source is not None else (
        f"no mirror (${WEIGHTS_ENV} and ${MIRROR_ENV} unset)")
    if not allow_download:
        raise DatasetError(f"pretrained {spec.name}: {target} is missing; tried {tried} and downloads are disabled. "
                           f"Set ${WEIGHTS_ENV} to a folder holding {spec.local}, or allow downloads")
    part = target.with_name(f".{target.name}.part")
    download(spec.url, part, timeout=timeout, progress=progress, what=f"pretrained {spec.name}")
    try:
        _check(spec, part, f"URL {spec.url}", f"rerun to download again, or set ${WEIGHTS_ENV} to a verified copy")
    except ChecksumMismatchError:
        part.unlink(missing_ok=True)
        raise
    os.replace(part, target)
    return target

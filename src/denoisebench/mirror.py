"""Finding the offline mirror (``shared/``: ``data/`` for datasets, ``weights/`` for pretrained weights).

The data mirror is looked for, in this order, and the first folder that exists is used:

1. ``../shared/data`` beside the checkout, resolved from the repository root (not the working directory): the
   root of the repository the command runs in (``DENOISEBENCH_ROOT``, else the nearest folder above the working
   directory holding ``dvc.yaml``), the repository a queued DVC experiment's temporary copy
   (``<repo>/.dvc/tmp/exps/...``) belongs to, and the checkout the package was imported from (editable install);
2. params ``data.mirror``;
3. env ``DENOISEBENCH_MIRROR``.

Every copied file is checked against its pinned sha256, so the order only decides where the bytes come from,
never what they are. :func:`shared_mirror_root` is the folder holding the data mirror, so ``weights/`` beside
``data/`` is found the same way.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

MIRROR_ENV = "DENOISEBENCH_MIRROR"
ROOT_ENV = "DENOISEBENCH_ROOT"
ROOT_MARKER = "dvc.yaml"
#: The mirror's place relative to a repository root.
BESIDE_CHECKOUT = Path("..") / "shared" / "data"
#: Where DVC puts the temporary copy of a queued experiment, relative to the repository it belongs to.
DVC_EXPS_DIR = (".dvc", "tmp", "exps")
#: The checkout this package was imported from (``<checkout>/src/denoisebench/mirror.py``; site-packages otherwise).
PACKAGE_CHECKOUT = Path(__file__).resolve().parents[2]

LOG = logging.getLogger(__name__)


def find_repo_root(start: Path | None = None) -> Path:
    """``DENOISEBENCH_ROOT`` if set, else the nearest folder at or above ``start`` (default cwd) holding dvc.yaml.

    Falls back to ``start`` itself when no such folder exists.
    """
    env = os.environ.get(ROOT_ENV)
    if env:
        return Path(env).expanduser().resolve()
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / ROOT_MARKER).is_file():
            return folder
    return here


def state_root() -> Path:
    """``<repository>/.denoisebench`` (gitignored): state kept outside DVC's outputs (resume checkpoints, staging
    folders, GPU locks). The repository is ``DENOISEBENCH_ROOT`` when set, else ``DVC_ROOT`` (set by DVC for every
    stage; for a queued or ``--temp`` experiment it names the original repository, not the temporary copy that is
    deleted afterwards), else the nearest folder above the working directory holding dvc.yaml."""
    dvc_root = os.environ.get("DVC_ROOT")
    root = Path(dvc_root) if dvc_root and not os.environ.get(ROOT_ENV) else find_repo_root()
    return root / ".denoisebench"


#: Env override of the trainer's resume store.
CHECKPOINTS_ENV = "DENOISEBENCH_CHECKPOINTS"


def checkpoint_root() -> Path:
    """The trainer's resume store: ``$DENOISEBENCH_CHECKPOINTS`` if set, else ``<state_root>/checkpoints``."""
    env = os.environ.get(CHECKPOINTS_ENV)
    return Path(env).expanduser() if env else state_root() / "checkpoints"


def _outer_repo(root: Path) -> Path | None:
    """The repository a DVC temporary experiment copy (``<repo>/.dvc/tmp/exps/...``) belongs to, else None."""
    parts = root.parts
    for i in range(len(parts) - len(DVC_EXPS_DIR)):
        if parts[i : i + len(DVC_EXPS_DIR)] == DVC_EXPS_DIR:
            return Path(*parts[:i])
    return None


def checkout_roots(start: Path | None = None) -> list[Path]:
    """Repository roots the ``../shared/data`` mirror is looked for beside, most specific first (no duplicates)."""
    root = find_repo_root(start)
    candidates = [root, _outer_repo(root)]
    if (PACKAGE_CHECKOUT / ROOT_MARKER).is_file():
        candidates.append(PACKAGE_CHECKOUT)
    unique: list[Path] = []
    for path in candidates:
        if path is not None and path not in unique:
            unique.append(path)
    return unique


def mirror_candidates(params: dict[str, Any] | None = None, start: Path | None = None) -> list[tuple[str, Path]]:
    """Every place the data mirror may be, in lookup order, as ``(where it comes from, folder)``."""
    found = [(f"{BESIDE_CHECKOUT.as_posix()} beside {root}", (root / BESIDE_CHECKOUT).resolve())
             for root in checkout_roots(start)]
    setting = ((params or {}).get("data") or {}).get("mirror")
    if setting:
        path = Path(str(setting)).expanduser()
        found.append(("params data.mirror", (path if path.is_absolute() else find_repo_root(start) / path).resolve()))
    env = os.environ.get(MIRROR_ENV)
    if env:
        found.append((f"env {MIRROR_ENV}", Path(env).expanduser().resolve()))
    return found


def data_mirror(params: dict[str, Any] | None = None, start: Path | None = None) -> Path | None:
    """The data mirror: the first existing folder of :func:`mirror_candidates`, else None (official URLs).

    A configured mirror (setting or env) that is not a folder is reported with a warning naming it.
    """
    for where, path in mirror_candidates(params, start):
        if path.is_dir():
            return path
        if not where.startswith(BESIDE_CHECKOUT.as_posix()):
            LOG.warning("data mirror from %s is not a folder: %s (ignored)", where, path)
    return None


def shared_mirror_root(params: dict[str, Any] | None = None, start: Path | None = None) -> Path | None:
    """The folder holding the data mirror and its siblings (``weights/``), found as :func:`data_mirror`; None when
    no mirror is found. ``shared_mirror_root() / "weights"`` is the pretrained-weights mirror."""
    mirror = data_mirror(params, start)
    return None if mirror is None else mirror.parent

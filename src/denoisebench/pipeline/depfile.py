"""Which project modules an entry's work ran through: recorded like a compiler's depfile, checked by content.

After an entry's work (in its own process: a forked child or a worker subprocess), :func:`modules_used` lists
every ``denoisebench`` module in ``sys.modules`` with the sha256 of its source, and the stage script. Modules of
*other* paper packages are left out when they were imported only because a registry loader imports every paper's
registrations, unless the entry looked up an item they registered (``denoisebench.registry``), so an edit to one
paper's package reruns only the entries that ran its code. The core is never left out (an over-approximation),
except the runner's own bookkeeping (:data:`BOOKKEEPING`): it decides whether an entry is rebuilt and where its
outputs are published, never what they contain (its record format is versioned: an incompatible record rebuilds).
"""

from __future__ import annotations

import hashlib
import os
import sys
from functools import lru_cache
from pathlib import Path

from denoisebench import registry

#: The package's folder (``src/denoisebench`` in a checkout).
PACKAGE_DIR = Path(__file__).resolve().parents[1]
PACKAGE = "denoisebench"
PAPERS_PACKAGE = f"{PACKAGE}.papers."
#: Modules that only decide whether to rebuild and where to publish (tested on their own, tests/test_pipeline_*.py).
BOOKKEEPING = frozenset(f"{PACKAGE}.pipeline{suffix}" for suffix in
                        ("", ".runner", ".record", ".depfile", ".inputs", ".status"))
#: Key prefix of a non-module source (the stage script), relative to the repository root.
FILE_PREFIX = "file:"


def paper_package(module: str) -> str | None:
    """The paper package (``denoisebench.papers.<folder>``) of any module inside one, else None."""
    if not module.startswith(PAPERS_PACKAGE):
        return None
    return ".".join(module.split(".")[:3])


def _counts(module: str, own_paper: str | None) -> bool:
    paper = paper_package(module)
    if paper is None or paper == own_paper:
        return True
    return module not in registry.LOADER_IMPORTED or module in registry.LOOKED_UP


def modules_used(own_paper: str | None, repo_root: Path) -> dict[str, str]:
    """``{module or file key: sha256 of its source}`` for this process (see the module docstring)."""
    used: dict[str, str] = {}
    for name, module in list(sys.modules.items()):
        if not (name == PACKAGE or name.startswith(PACKAGE + ".")) or not getattr(module, "__file__", None):
            continue
        if name in BOOKKEEPING:
            continue
        if _counts(name, own_paper):
            used[name] = source_sha256(Path(module.__file__))
    main = getattr(sys.modules.get("__main__"), "__file__", None)
    if main:
        path = Path(main).resolve()
        key = path.relative_to(repo_root).as_posix() if path.is_relative_to(repo_root) else str(path)
        used[FILE_PREFIX + key] = source_sha256(path)
    return dict(sorted(used.items()))


def source_sha256(path: Path) -> str:
    """sha256 of a file's bytes ("missing" when it does not exist)."""
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return "missing"


def module_file(key: str, repo_root: Path) -> Path:
    """The source file of a recorded key, found without importing it (a paper module may live in a folder named
    by ``DENOISEBENCH_PAPER_PATH``)."""
    if key.startswith(FILE_PREFIX):
        path = Path(key[len(FILE_PREFIX):])
        return path if path.is_absolute() else repo_root / path
    parts = key.split(".")[1:]
    bases = [PACKAGE_DIR.joinpath(*parts)]
    if len(parts) > 1 and parts[0] == "papers":  # a paper developed outside the tree
        bases += [Path(p).joinpath(*parts[1:]) for p in os.environ.get("DENOISEBENCH_PAPER_PATH", "").split(os.pathsep)
                  if p]
    for base in bases:
        for candidate in (base.with_suffix(".py"), base / "__init__.py"):
            if candidate.is_file():
                return candidate
    return bases[0].with_suffix(".py")


@lru_cache(maxsize=None)
def current_sha256(key: str, repo_root: Path) -> str:
    """The sha256 of a recorded key's source now (cached for one stage run: sources do not change during it)."""
    return source_sha256(module_file(key, repo_root))


def changed_modules(recorded: dict[str, str], repo_root: Path) -> list[str]:
    """The recorded keys whose source changed or disappeared since."""
    return [key for key, digest in recorded.items() if current_sha256(key, repo_root) != digest]

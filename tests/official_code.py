"""Import the authors' public code from ``../shared/reference/`` for conformance tests (never copied here).

:func:`official_modules` puts one reference folder on ``sys.path`` with stub modules for what the tests do not
exercise (TensorBoard writers, image plotting), imports the named modules and, on exit, removes every module it
imported from the folder (it uses generic top-level names such as ``modules`` and ``utils``). A test module skips with a
clear reason when the folder is absent. :func:`report` prints and returns a max difference, so ``pytest -s`` shows
the numbers the closing note quotes.
"""

from __future__ import annotations

import contextlib
import importlib
import sys
import types
from collections.abc import Iterator
from pathlib import Path

import pytest

REFERENCE = Path(__file__).resolve().parents[1] / ".." / "shared" / "reference"


def reference_dir(name: str) -> Path:
    """``../shared/reference/<name>``, or skip the calling test module with the reason."""
    folder = (REFERENCE / name).resolve()
    if not folder.is_dir():
        pytest.skip(f"official code {folder} is absent (../shared/reference, see its MANIFEST.md)",
                    allow_module_level=True)
    return folder


def _stub(name: str, **attrs: object) -> types.ModuleType:
    module = types.ModuleType(name)
    module.__dict__.update(attrs)
    return module


class _Writer:
    def __init__(self, *args: object, **kwargs: object) -> None:
        pass

    def add_scalar(self, *args: object, **kwargs: object) -> None:
        pass


@contextlib.contextmanager
def official_modules(folder: str, *names: str, stubs: dict[str, types.ModuleType] | None = None,
                     ) -> Iterator[list[types.ModuleType]]:
    """The official modules ``names`` imported from ``../shared/reference/<folder>`` (with ``stubs``)."""
    root = reference_dir(folder)
    before = set(sys.modules)
    fakes = {"tensorboardX": _stub("tensorboardX", SummaryWriter=_Writer), **(stubs or {})}
    saved = {k: sys.modules[k] for k in fakes if k in sys.modules}
    sys.modules.update(fakes)
    sys.path.insert(0, str(root))
    try:
        yield [importlib.import_module(n) for n in names]
    finally:
        sys.path.remove(str(root))
        tops = {p.stem for p in root.iterdir()}  # the folder's top-level packages and modules
        for key in set(sys.modules) - before:
            if key.split(".")[0] in tops or key in fakes:
                del sys.modules[key]
        sys.modules.update(saved)


def report(component: str, difference: float) -> float:
    """Print the max difference of a component (float64) and return it."""
    print(f"conformance: {component}: max |difference| = {difference:.3e}")
    return difference

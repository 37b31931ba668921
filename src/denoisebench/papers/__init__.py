"""Paper packages: one folder per paper, discovered by name, never imported by name from the core.

A paper lives in ``denoisebench/papers/p<NNN>_<key>/`` (``p004_semantic_denoise``): its networks, methods,
losses, figure/table stages and, in its ``__init__.py``, a :class:`Paper` declaration named ``PAPER``. Importing
the declaration is cheap (no torch); the paper's method modules register when ``METHODS`` is first asked for a
name it does not hold (:func:`load_paper_methods`), its network modules (which import torch) when ``MODELS`` is
(:func:`load_paper_networks`), so a stage that only needs a method's class never imports torch.

Discovery: every sub-package of this package whose name matches ``p<3 digits>_<key>`` is a paper. Folders named
in the environment variable ``DENOISEBENCH_PAPER_PATH`` (``os.pathsep``-separated) are searched too, so a paper
can be developed outside the source tree (the toy-paper test does this).
"""

from __future__ import annotations

import importlib
import os
import pkgutil
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from denoisebench.errors import ConfigError, UnknownNameError
from denoisebench.registry import Registry

PACKAGE_NAME = re.compile(r"^p(\d{3})_([a-z0-9_]+)$")
PAPER_PATH_ENV = "DENOISEBENCH_PAPER_PATH"

__path__ = [*__path__, *(p for p in os.environ.get(PAPER_PATH_ENV, "").split(os.pathsep) if p)]


@dataclass(frozen=True)
class OfficialCheck:
    """One component of a paper's code held to the authors' official code (same weights in, same numbers out).

    Attributes:
        component: what was compared (``"MAXL look-ahead mask gradient"``).
        official: the official file (and function/class), relative to ``../shared/reference/``.
        commit: the official repository's commit the file was taken at.
        max_difference: the largest absolute difference measured, with its precision (``"0 (float64)"``).
        test: the test that measures it (and fails when it grows).
    """

    component: str
    official: str
    commit: str
    max_difference: str
    test: str = ""


@dataclass(frozen=True)
class Paper:
    """What the benchmark knows about one paper, declared in its package.

    Attributes:
        number: seed number (``"004"``), also the page name ``reports/papers/004.md``.
        key: short key (``"semantic_denoise"``): reported-numbers file, table lookups.
        title: the paper's title.
        seed_file: its text in ``shared/papers/``.
        reported: reported-numbers CSV: a file name in ``references/`` (generated from the shared
            ``paper_results.yaml`` by ``tools/build_references.py``) or a path relative to the package folder.
        method_map: paper method name (as in the reported numbers) -> benchmark entries; a cell takes the first
            listed entry with a result for it (per-sigma models).
        extra_rows: row label -> entries without a reported counterpart, shown on the paper's page.
        code: sub-modules that register the paper's methods (keep them free of top-level torch imports).
        networks: sub-modules that register the paper's networks in ``MODELS``.
        registers: sub-modules that register the paper's own noise models and degradations, datasets and their
            folder layouts, metric protocols and released weights in the core registries (``NOISE_MODELS``,
            ``DATASETS``, ``LOADERS``, ``PROTOCOLS``, ``PRETRAINED``); imported the first time one of those is
            asked for a name it does not hold, so a paper brings its own without editing the core.
        stages: figure/table stage name -> ``"module:function"`` (relative to the package) taking ``argv``.
        shave3: the page shows 3-px-shaved PSNR beside the whole-image one.
        note: a caveat shown near the top of the page.
        links: (label, path relative to ``reports/papers/``) of outputs the paper's stages write.
        official_checks: components of the paper's code checked against the authors' official code; the page
            shows them and qualifies the rows of the paper's own entries as "checked against official code".
        summary_extra: ``"module:function"`` (relative to the package) adding to the page's Summary the numbers a
            paper stage computed outside the results tree (e.g. on stand-in test sets); called with the pages
            folder (``reports/papers``) and the loaded results, returns markdown ("" when there is nothing).
        package: the package's module name (set by discovery).
    """

    number: str
    key: str
    title: str
    seed_file: str
    reported: str = ""
    method_map: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    extra_rows: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    code: tuple[str, ...] = ()
    networks: tuple[str, ...] = ()
    registers: tuple[str, ...] = ()
    stages: Mapping[str, str] = field(default_factory=dict)
    shave3: bool = False
    note: str = ""
    links: tuple[tuple[str, str], ...] = ()
    official_checks: tuple[OfficialCheck, ...] = ()
    summary_extra: str = ""
    package: str = ""

    @property
    def folder(self) -> Path:
        """The package's folder."""
        module = importlib.import_module(self.package)
        return Path(module.__file__).resolve().parent

    def reported_path(self, references_dir: str | os.PathLike[str]) -> Path:
        """The reported-numbers CSV: in the package folder when it is there, else in ``references_dir``."""
        local = self.folder / self.reported
        return local if self.reported and local.is_file() else Path(references_dir) / (self.reported or
                                                                                       f"{self.key}.csv")

    def entries(self) -> list[str]:
        """Every benchmark entry the paper's page shows (mapped rows first), without repeats."""
        lists = [*self.method_map.values(), *self.extra_rows.values()]
        return list(dict.fromkeys(e for entries in lists for e in entries))

    def function(self, spec: str) -> Callable[..., Any]:
        """The function ``"module:function"`` of this package."""
        module, _, function = spec.partition(":")
        return getattr(importlib.import_module(f"{self.package}.{module}"), function)

    def stage(self, name: str) -> Callable[..., Any]:
        """The function of the paper stage ``name``."""
        if name not in self.stages:
            valid = ", ".join(sorted(self.stages)) or "(none)"
            raise UnknownNameError(f"paper {self.number} ({self.key}) has no stage {name!r}; valid stages: {valid}")
        return self.function(self.stages[name])


def _as_entry_lists(mapping: Mapping[str, str | tuple[str, ...] | list[str]], where: str) -> dict[str, tuple[str, ...]]:
    """``{name: entry or entries}`` -> ``{name: (entries, ...)}``; anything else is a ConfigError naming ``where``."""
    out: dict[str, tuple[str, ...]] = {}
    for name, value in mapping.items():
        entries = (value,) if isinstance(value, str) else tuple(value)
        if not entries or not all(isinstance(e, str) and e for e in entries):
            raise ConfigError(f"{where}: {name!r} must name an entry or a non-empty list of entries, got {value!r}")
        out[str(name)] = entries
    return out


def _declaration(module_name: str) -> Paper:
    """Import ``module_name`` and return its checked ``PAPER`` with ``package`` filled in."""
    module = importlib.import_module(module_name)
    paper = getattr(module, "PAPER", None)
    where = f"{module.__file__}"
    if not isinstance(paper, Paper):
        raise ConfigError(f"{where}: a paper package must define PAPER = Paper(...) (denoisebench.papers.Paper)")
    folder = module_name.rsplit(".", 1)[-1]
    match = PACKAGE_NAME.match(folder)
    if match is None or match.group(1) != paper.number:
        raise ConfigError(f"{where}: folder {folder!r} must be named p{paper.number}_<key> (PAPER.number)")
    return replace(paper, package=module_name,
                   method_map=_as_entry_lists(paper.method_map, f"{where}: method_map"),
                   extra_rows=_as_entry_lists(paper.extra_rows, f"{where}: extra_rows"))


def _discover() -> None:
    """Register the ``PAPER`` of every package named ``p<NNN>_<key>`` on this package's search path."""
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda i: i.name):
        if info.ispkg and PACKAGE_NAME.match(info.name):
            paper = _declaration(f"{__name__}.{info.name}")
            PAPERS.add(paper.key, paper)


#: Paper key -> declaration, in number order (filled on first lookup).
PAPERS: Registry[Paper] = Registry("paper", loader=_discover)


def all_papers() -> list[Paper]:
    """Every discovered paper, by number."""
    return sorted((PAPERS.get(k) for k in PAPERS.names()), key=lambda p: p.number)


def find_paper(name: str) -> Paper:
    """A paper by key (``semantic_denoise``), number (``004``) or package folder (``p004_semantic_denoise``)."""
    for paper in all_papers():
        if name in (paper.key, paper.number, paper.package.rsplit(".", 1)[-1]):
            return paper
    valid = ", ".join(f"{p.number} ({p.key})" for p in all_papers())
    raise UnknownNameError(f"unknown paper {name!r}; valid papers: {valid}")


def paper_of_module(module_name: str) -> Paper | None:
    """The paper whose package holds ``module_name`` (None for core code)."""
    for paper in all_papers():
        if module_name == paper.package or module_name.startswith(paper.package + "."):
            return paper
    return None


_loaded: set[str] = set()


def _load(field: str, core: str) -> None:
    """Import the core module ``core`` (its own registrations), then every paper's ``field`` modules, once."""
    if field in _loaded:
        return
    _loaded.add(field)
    importlib.import_module(core)
    for paper in all_papers():
        for module in getattr(paper, field):
            importlib.import_module(f"{paper.package}.{module}")


def load_paper_methods() -> None:
    """Loader of ``METHODS``: the core methods, then every paper's method modules (the core never names one)."""
    _load("code", "denoisebench.methods")


def load_paper_networks() -> None:
    """Loader of ``MODELS``: every paper's network modules (imports torch)."""
    _load("networks", "denoisebench.models")


def load_paper_registrations() -> None:
    """Loader of the data registries (``NOISE_MODELS``, ``DATASETS``, ``LOADERS``, ``PROTOCOLS``,
    ``PRETRAINED``): every paper's ``registers`` modules. The core modules that own those registries register
    their own items when imported, which the caller already did."""
    _load("registers", "denoisebench.registry")


__all__ = ["PAPERS", "Paper", "all_papers", "find_paper", "load_paper_methods", "load_paper_networks",
           "load_paper_registrations", "paper_of_module"]

"""Dataset declarations: files (URL, sha256, size), layout, licence, citation and fixed splits.

A :class:`DatasetSpec` is pure data. Fetching lives in :mod:`denoisebench.datasets.fetch`, loading in
:mod:`denoisebench.datasets.loaders`.
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass, field
from importlib import resources
from types import MappingProxyType
from typing import Callable, Mapping
from urllib.parse import quote

from denoisebench.errors import DatasetError

COLORS = ("rgb", "gray", "mixed")
ROLES = ("test", "train", "aux")
ALL_SPLIT = "all"


@dataclass(frozen=True)
class FileEntry:
    """One file of a dataset.

    Attributes:
        path: POSIX path relative to the dataset folder (``root/<folder>/<path>``).
        url: where to download it (``None``: not downloadable, e.g. scikit-image bundled files).
        sha256: expected hex digest, or ``None`` when no trusted hash is published (recorded on first download).
        size: size in bytes when known (checked before hashing).
        archive: extract the file into ``<folder>/<archive stem>/`` after it is verified.
    """

    path: str
    url: str | None
    sha256: str | None = None
    size: int | None = None
    archive: bool = False


@dataclass(frozen=True)
class Layout:
    """How a dataset folder is organised.

    Attributes:
        kind: a folder layout registered in ``denoisebench.datasets.loaders.LOADERS`` (a paper may add one; the
            name is checked when the dataset is read): ``clean`` single images, ``paired`` ``noisy/NAME`` + ``clean/NAME``,
            ``blocks`` SIDD-style ``.mat`` arrays (images, blocks, H, W, C), ``batches`` RENOIR ``Batch_*``
            folders, ``aux`` tables that are not images, ``bundled`` images shipped inside scikit-image.
            ``archived`` images inside extracted archives, found by glob (DIV2K, SIDD-Small; paper 001).
        noisy_dir, clean_dir: sub-folders of a ``paired`` layout.
        noisy_file, clean_file, noisy_key, clean_key: the ``.mat`` files and variable names of a ``blocks`` layout.
            For ``archived``: ``clean_file`` / ``noisy_file`` are glob patterns inside each extracted archive
            (``noisy_file`` None: clean-only images, id = file stem; else pairs, id = the pair's parent folder).
        crop: centre-crop size per split for ``bundled`` images.
        within: ``mirrored`` / ``side_by_side``: only files below a folder of this name (``"test"``), "" = all.
        clean_stem_sep: ``mirrored``: the reference's stem is the input's stem up to this separator (RESIDE:
            ``hazy/1400_1.png`` -> ``gt/1400.png``); "" = the same stem.

    Issue 13 (paper 002) adds ``mirrored`` (extracted archives whose inputs sit in folders named ``noisy_dir`` and
    whose references sit at the same path under ``clean_dir``: GoPro ``blur``/``sharp``, RESIDE ``hazy``/``gt``)
    and ``side_by_side`` (pix2pix-style images, degraded half | clean half: DID-MDN; ``noisy_dir`` is ``left``
    or ``right``, the degraded half).
    """

    kind: str
    noisy_dir: str = "noisy"
    clean_dir: str = "clean"
    noisy_file: str | None = None
    clean_file: str | None = None
    noisy_key: str | None = None
    clean_key: str | None = None
    crop: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))
    within: str = ""
    clean_stem_sep: str = ""



@dataclass(frozen=True)
class DatasetSpec:
    """Everything the project knows about one dataset, declared once.

    Attributes:
        name: registry name (``kodak24``).
        description: one line.
        folder: folder name under the data root and in the mirror (``Kodak24``).
        files: declared files, in loading order.
        layout: see :class:`Layout`.
        color: ``rgb``, ``gray`` or ``mixed``.
        role: ``test``, ``train`` or ``aux``.
        homepage: official page of the dataset.
        license: short statement of the terms.
        citation: what to cite.
        source: where the pinned bytes come from (repository and commit, or official host).
        split_ids: fixed splits, split name -> sample ids (``all`` is always valid as well).
        default_split: the split used when ``split`` is ``None``.
        notes: caveats (unverified URLs, how clean images are formed, ...).
    """

    name: str
    description: str
    folder: str
    files: tuple[FileEntry, ...]
    layout: Layout
    color: str
    role: str
    homepage: str
    license: str
    citation: str
    source: str = ""
    split_ids: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: MappingProxyType({}))
    default_split: str = ALL_SPLIT
    notes: str = ""

    def __post_init__(self) -> None:
        if self.color not in COLORS:
            raise ValueError(f"dataset {self.name}: color {self.color!r} is not one of {COLORS}")
        if self.role not in ROLES:
            raise ValueError(f"dataset {self.name}: role {self.role!r} is not one of {ROLES}")
        object.__setattr__(self, "split_ids", MappingProxyType({k: tuple(v) for k, v in self.split_ids.items()}))
        if self.default_split not in self.splits:
            raise ValueError(f"dataset {self.name}: default split {self.default_split!r} not in {self.splits}")

    @property
    def splits(self) -> tuple[str, ...]:
        """Valid split names (``all`` first unless the dataset defines it)."""
        names = tuple(self.split_ids)
        return names if ALL_SPLIT in names else (ALL_SPLIT, *names)

    @property
    def kind(self) -> str:
        """Shortcut for ``layout.kind``."""
        return self.layout.kind

    def file(self, path: str) -> FileEntry:
        """The declared entry for ``path``."""
        for entry in self.files:
            if entry.path == path:
                return entry
        raise DatasetError(f"dataset {self.name}: no declared file {path!r}")

    def with_base_url(self, base_url: str) -> "DatasetSpec":
        """A copy whose downloadable files are fetched from ``<base_url>/<path>`` (mirrors, local test servers)."""
        base = base_url.rstrip("/")
        files = tuple(
            dataclasses.replace(f, url=f"{base}/{quote(f.path)}") if f.url is not None else f for f in self.files
        )
        return dataclasses.replace(self, files=files)

    def with_files(self, files: tuple[FileEntry, ...]) -> "DatasetSpec":
        """A copy with another file list (test fixtures)."""
        return dataclasses.replace(self, files=tuple(files))


@functools.lru_cache(maxsize=None)
def read_checksums(name: str) -> tuple[tuple[str, str], ...]:
    """``(relative path, sha256)`` pairs of the package data file ``checksums/<name>.sha256``.

    The file has ``sha256sum`` format with paths relative to the dataset folder, so
    ``cd <root>/<folder> && sha256sum -c <name>.sha256`` checks a copy by hand.
    """
    ref = resources.files("denoisebench.datasets").joinpath("checksums", f"{name}.sha256")
    try:
        text = ref.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DatasetError(f"package data checksums/{name}.sha256 is missing; reinstall denoisebench") from None
    pairs = []
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        digest, sep, path = line.partition("  ")
        if not sep or len(digest) != 64:
            raise DatasetError(f"checksums/{name}.sha256 line {lineno}: expected '<sha256>  <path>', got {line!r}")
        pairs.append((path.strip(), digest.lower()))
    return tuple(pairs)


def files_from_checksums(
    name: str, url_for: Callable[[str], str | None], sizes: Mapping[str, int] | None = None
) -> tuple[FileEntry, ...]:
    """Build the file list of ``name`` from its checksum file and a path -> URL rule."""
    sizes = sizes or {}
    return tuple(FileEntry(path, url_for(path), digest, sizes.get(path)) for path, digest in read_checksums(name))

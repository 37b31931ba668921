"""Loading samples: :func:`list_samples` returns lazy :class:`SampleRef` objects, one loader per layout kind.

Images are float32 (H, W, C) in [0, 1]; grey images have C=1. Loading is lazy and picklable (each reference
holds a ``functools.partial`` of a module-level function), so references can cross process boundaries.
"""

from __future__ import annotations

import functools
import os
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Callable

import numpy as np

from denoisebench.datasets.download import archive_stem
from denoisebench.datasets.fetch import dataset_dir, get_spec
from denoisebench.datasets.spec import DatasetSpec
from denoisebench.errors import ConfigError, DatasetError
from denoisebench.imageio import read_image, read_uint8, to_float
from denoisebench.registry import Registry, load_paper_registrations

Loader = Callable[[DatasetSpec, Path, str], "list[SampleRef]"]
LOADERS: Registry[Loader] = Registry("dataset layout", loader=load_paper_registrations)


@dataclass(frozen=True)
class SampleRef:
    """A lazily loaded sample.

    Attributes:
        id: stable, filesystem-safe identifier (file stem, ``img03_blk07`` for SIDD).
        dataset: dataset name.
        clean_path, noisy_path: source files when the sample is a file (informational).
    """

    id: str
    dataset: str
    _clean: Callable[[], np.ndarray] = field(repr=False, compare=False)
    _noisy: Callable[[], np.ndarray] | None = field(default=None, repr=False, compare=False)
    clean_path: Path | None = None
    noisy_path: Path | None = None

    def clean(self) -> np.ndarray:
        """The reference image, float32 (H, W, C) in [0, 1]."""
        return self._clean()

    def noisy(self) -> np.ndarray | None:
        """The real noisy image, or ``None`` for clean-only sets (noise is synthesised downstream)."""
        return None if self._noisy is None else self._noisy()

    @property
    def has_noisy(self) -> bool:
        """True for real-noise pairs."""
        return self._noisy is not None


def list_samples(name: str | DatasetSpec, root: str | os.PathLike[str] | None = None, split: str | None = None,
                 limit: int | None = None) -> list[SampleRef]:
    """The samples of a dataset split, in a fixed order.

    Args:
        name: registered name or a :class:`DatasetSpec`.
        root: data root (the dataset must have been fetched into ``root/<folder>``); ignored by ``demo``.
        split: one of ``spec.splits``; ``None`` means ``spec.default_split`` (``all`` for most sets).
        limit: keep the first ``limit`` samples.

    Raises:
        ConfigError: unknown split, bad limit, or an auxiliary (non-image) dataset.
        DatasetError: the dataset folder or a declared file is missing.
    """
    spec = get_spec(name)
    split = spec.default_split if split is None else split
    if split not in spec.splits:
        raise ConfigError(f"dataset {spec.name}: unknown split {split!r}; valid splits: {', '.join(spec.splits)}")
    if limit is not None and limit < 0:
        raise ConfigError(f"list_samples limit must be >= 0, got {limit}")
    if spec.kind == "bundled":
        folder = Path(".")
    else:
        if root is None:
            raise ConfigError(f"dataset {spec.name}: a data root is required (the folder holding {spec.folder}/)")
        folder = dataset_dir(spec, root)
        if not folder.is_dir():
            raise DatasetError(f"dataset {spec.name}: {folder} does not exist; run `denoisebench datasets fetch "
                               f"{spec.name}` (or fetch_dataset) first")
    samples = LOADERS.get(spec.kind)(spec, folder, split)
    if split != "all" and split in spec.split_ids and spec.kind != "bundled":
        wanted = set(spec.split_ids[split])
        samples = [s for s in samples if s.id in wanted]
    return samples[:limit] if limit is not None else samples


def _require(spec: DatasetSpec, path: Path) -> Path:
    if not path.is_file():
        raise DatasetError(f"dataset {spec.name}: {path} is missing; run `denoisebench datasets fetch {spec.name}`")
    return path


@LOADERS.register("clean")
def _load_clean(spec: DatasetSpec, folder: Path, split: str) -> list[SampleRef]:
    refs = []
    for entry in spec.files:
        path = _require(spec, folder / entry.path)
        refs.append(SampleRef(PurePosixPath(entry.path).stem, spec.name, functools.partial(read_image, path),
                              clean_path=path))
    return refs


@LOADERS.register("paired")
def _load_paired(spec: DatasetSpec, folder: Path, split: str) -> list[SampleRef]:
    noisy_prefix = spec.layout.noisy_dir.rstrip("/") + "/"
    refs = []
    for entry in spec.files:
        if not entry.path.startswith(noisy_prefix):
            continue
        name = entry.path[len(noisy_prefix):]
        noisy = _require(spec, folder / entry.path)
        clean = _require(spec, folder / spec.layout.clean_dir / name)
        refs.append(SampleRef(PurePosixPath(name).stem, spec.name, functools.partial(read_image, clean),
                              functools.partial(read_image, noisy), clean_path=clean, noisy_path=noisy))
    return refs


# ---- paper 001 (issue 12): images inside extracted archives (DIV2K, SIDD-Small) ---------------------------

@LOADERS.register("archived")
def _load_archived(spec: DatasetSpec, folder: Path, split: str) -> list[SampleRef]:
    """Images matched by ``layout.clean_file`` (and pairs by ``layout.noisy_file``) in every extracted archive."""
    clean_glob, noisy_glob = spec.layout.clean_file or "**/*.png", spec.layout.noisy_file
    refs = []
    for entry in spec.files:
        root = folder / archive_stem(PurePosixPath(entry.path).name)
        if not root.is_dir():
            raise DatasetError(f"dataset {spec.name}: {root} is missing (archive {entry.path} not fetched or not "
                               f"extracted); run `denoisebench datasets fetch {spec.name}`")
        cleans = sorted(root.glob(clean_glob))
        if noisy_glob is None:
            refs += [SampleRef(path.stem, spec.name, functools.partial(read_image, path), clean_path=path)
                     for path in cleans]
            continue
        noisy_by_dir = {path.parent: path for path in sorted(root.glob(noisy_glob))}
        for clean in cleans:
            noisy = noisy_by_dir.get(clean.parent)
            if noisy is None:
                raise DatasetError(f"dataset {spec.name}: no noisy image matching {noisy_glob!r} beside {clean}")
            refs.append(SampleRef(clean.parent.name, spec.name, functools.partial(read_image, clean),
                                  functools.partial(read_image, noisy), clean_path=clean, noisy_path=noisy))
    return refs


@LOADERS.register("aux")
def _load_aux(spec: DatasetSpec, folder: Path, split: str) -> list[SampleRef]:
    raise ConfigError(f"dataset {spec.name} holds auxiliary tables, not images; open its files under {folder} "
                      f"({', '.join(f.path for f in spec.files)}) instead of listing samples")


# ---- SIDD-style .mat blocks -------------------------------------------------------------------------------

@functools.lru_cache(maxsize=4)
def _mat_array(path: str, key: str, mtime_ns: int, size: int) -> np.ndarray:
    """Load one variable of a .mat file once per process (the stat values key the cache)."""
    import scipy.io

    try:
        arr = scipy.io.loadmat(path, variable_names=[key])[key]
    except NotImplementedError:  # MATLAB v7.3 (HDF5) files
        arr = _mat73_array(path, key)
    except KeyError:
        raise DatasetError(f"{path}: no variable {key!r}; the file is not the expected SIDD .mat") from None
    except Exception as exc:  # scipy raises several types for corrupt files
        raise DatasetError(f"{path}: cannot read .mat ({exc}); delete it and fetch again") from exc
    if arr.ndim != 5 or arr.shape[-1] not in (1, 3):
        raise DatasetError(f"{path}: {key} has shape {arr.shape}; expected (images, blocks, H, W, C)")
    return arr


def _mat73_array(path: str, key: str) -> np.ndarray:
    try:
        import h5py
    except ImportError:
        raise DatasetError(f"{path} is a MATLAB v7.3 file; install h5py to read it") from None
    with h5py.File(path, "r") as handle:
        return np.asarray(handle[key]).transpose(tuple(range(handle[key].ndim))[::-1])


def load_block(path: Path, key: str, image: int, block: int) -> np.ndarray:
    """One block of a blocks ``.mat`` file as float32 (H, W, C) in [0, 1]."""
    stat = path.stat()
    arr = _mat_array(str(path), key, stat.st_mtime_ns, stat.st_size)[image, block]
    return to_float(arr) if arr.dtype == np.uint8 else np.asarray(arr, dtype=np.float32)


def _mat_shape(path: Path, key: str) -> tuple[int, ...]:
    import scipy.io

    try:
        shapes = {n: s for n, s, _ in scipy.io.whosmat(str(path))}
    except NotImplementedError:
        stat = path.stat()
        return _mat_array(str(path), key, stat.st_mtime_ns, stat.st_size).shape
    if key not in shapes:
        raise DatasetError(f"{path}: no variable {key!r} (found {sorted(shapes)}); the file is not the expected one")
    return tuple(shapes[key])


@LOADERS.register("blocks")
def _load_blocks(spec: DatasetSpec, folder: Path, split: str) -> list[SampleRef]:
    lay = spec.layout
    noisy = _require(spec, folder / str(lay.noisy_file))
    clean = _require(spec, folder / str(lay.clean_file))
    shape, clean_shape = _mat_shape(noisy, str(lay.noisy_key)), _mat_shape(clean, str(lay.clean_key))
    if shape != clean_shape or len(shape) != 5:
        raise DatasetError(f"dataset {spec.name}: noisy blocks {shape} and clean blocks {clean_shape} differ or are "
                           "not (images, blocks, H, W, C)")
    return [
        SampleRef(f"img{i:02d}_blk{j:02d}", spec.name,
                  functools.partial(load_block, clean, str(lay.clean_key), i, j),
                  functools.partial(load_block, noisy, str(lay.noisy_key), i, j),
                  clean_path=clean, noisy_path=noisy)
        for i in range(shape[0]) for j in range(shape[1])
    ]


# ---- RENOIR batches ---------------------------------------------------------------------------------------

def load_mean_reference(paths: tuple[Path, ...]) -> np.ndarray:
    """Mean of the low-noise images of a batch, rounded to 8 bits, as float32 (H, W, C) in [0, 1]."""
    stack = np.stack([read_uint8(p).astype(np.float64) for p in paths])
    return to_float(np.clip(np.rint(stack.mean(axis=0)), 0, 255).astype(np.uint8))


_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


@LOADERS.register("batches")
def _load_batches(spec: DatasetSpec, folder: Path, split: str) -> list[SampleRef]:
    refs = []
    seen: set[str] = set()
    batches = (p for p in folder.rglob("Batch_*") if p.is_dir() and not any(
        part.startswith(".") for part in p.relative_to(folder).parts))
    for batch in sorted(batches):
        files = sorted(p for p in batch.iterdir() if p.is_file())
        references = tuple(p for p in files if p.name.lower().endswith(("reference.bmp", "full.bmp")))
        noisy = [p for p in files if p.name.lower().endswith("noisy.bmp")]
        if not any(p.name.lower().endswith("reference.bmp") for p in references) or not noisy:
            warnings.warn(f"dataset {spec.name}: skipping {batch}: it needs a *Reference.bmp and *Noisy.bmp files",
                          stacklevel=2)
            continue
        camera = archive_stem(batch.relative_to(folder).parts[0]).split("_")[0]
        clean = functools.partial(load_mean_reference, references)
        for path in noisy:
            stem = path.stem[: -len("noisy")] if path.stem.lower().endswith("noisy") else path.stem
            sample_id = _UNSAFE.sub("_", f"{camera}_{batch.name}_{stem}").strip("_")
            if sample_id in seen:
                warnings.warn(f"dataset {spec.name}: {path} duplicates sample {sample_id}; skipped", stacklevel=2)
                continue
            seen.add(sample_id)
            refs.append(SampleRef(sample_id, spec.name, clean, functools.partial(read_image, path),
                                  clean_path=references[0], noisy_path=path))
    if not refs:
        raise DatasetError(f"dataset {spec.name}: no Batch_* folders with *Reference.bmp / *Noisy.bmp under {folder}; "
                           f"run `denoisebench datasets fetch {spec.name}` or extract the archives there")
    return refs


# ---- extracted restoration archives (issue 13: GoPro, RESIDE, DID-MDN) -----------------------------------

_IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")


def _images_within(spec: DatasetSpec, folder: Path) -> list[Path]:
    """Image files below ``folder`` (hidden parts skipped), restricted to ``layout.within`` when set, sorted."""
    files = []
    for path in folder.rglob("*"):
        parts = path.relative_to(folder).parts
        if path.suffix.lower() not in _IMAGE_SUFFIXES or any(p.startswith(".") for p in parts):
            continue
        if spec.layout.within and spec.layout.within not in parts[:-1]:
            continue
        files.append(path)
    return sorted(files)


def _sample_id(rel: Path, drop: str) -> str:
    return _UNSAFE.sub("_", "_".join(p for p in rel.with_suffix("").parts if p != drop)).strip("_")


@LOADERS.register("mirrored")
def _load_mirrored(spec: DatasetSpec, folder: Path, split: str) -> list[SampleRef]:
    lay = spec.layout
    inputs = [p for p in _images_within(spec, folder) if lay.noisy_dir in p.relative_to(folder).parts[:-1]]
    refs = []
    for noisy in inputs:
        rel = noisy.relative_to(folder)
        parts = [lay.clean_dir if part == lay.noisy_dir else part for part in rel.parts[:-1]]
        stem = noisy.stem.split(lay.clean_stem_sep)[0] if lay.clean_stem_sep else noisy.stem
        candidates = [folder.joinpath(*parts, stem + suffix) for suffix in (noisy.suffix, *_IMAGE_SUFFIXES)]
        clean = next((c for c in candidates if c.is_file()), None)
        if clean is None:
            warnings.warn(f"dataset {spec.name}: no reference for {noisy} under {folder.joinpath(*parts)}; skipped",
                          stacklevel=2)
            continue
        refs.append(SampleRef(_sample_id(rel, lay.noisy_dir), spec.name, functools.partial(read_image, clean),
                              functools.partial(read_image, noisy), clean_path=clean, noisy_path=noisy))
    if not refs:
        raise DatasetError(f"dataset {spec.name}: no {lay.noisy_dir}/ images with {lay.clean_dir}/ references under "
                           f"{folder}{f' (below a {lay.within}/ folder)' if lay.within else ''}; run `denoisebench "
                           f"datasets fetch {spec.name}` or extract the archive there")
    return refs


def _half(path: Path, left: bool) -> np.ndarray:
    image = read_image(path)
    w = image.shape[1] // 2
    return image[:, :w] if left else image[:, w: 2 * w]


@LOADERS.register("side_by_side")
def _load_side_by_side(spec: DatasetSpec, folder: Path, split: str) -> list[SampleRef]:
    noisy_left = spec.layout.noisy_dir == "left"
    refs = [SampleRef(_sample_id(p.relative_to(folder), ""), spec.name,
                      functools.partial(_half, p, not noisy_left), functools.partial(_half, p, noisy_left),
                      clean_path=p, noisy_path=p)
            for p in _images_within(spec, folder)]
    if not refs:
        raise DatasetError(f"dataset {spec.name}: no images under {folder}"
                           f"{f' (below a {spec.layout.within}/ folder)' if spec.layout.within else ''}; run "
                           f"`denoisebench datasets fetch {spec.name}` or extract the archive there")
    return refs


# ---- scikit-image bundled images -------------------------------------------------------------------------

@LOADERS.register("bundled")
def _load_bundled(spec: DatasetSpec, folder: Path, split: str) -> list[SampleRef]:
    from denoisebench.datasets.demo import load_demo_image

    gray = split.endswith("_gray")
    crop = spec.layout.crop
    refs = []
    for n in spec.split_ids[split]:
        # "all" has no crop of its own: each image keeps the crop of the split it comes from.
        size = crop[split] if split in crop else next(
            crop[s] for s, ids in spec.split_ids.items() if n in ids and s in crop)
        refs.append(SampleRef(n, spec.name, functools.partial(load_demo_image, n, size, gray)))
    return refs

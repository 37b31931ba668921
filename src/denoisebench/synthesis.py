"""Noisy test sets: synthesize each test cell once, losslessly, with a manifest of per-image seeds and params.

Layout of one cell (``<out>/<testset>/<noise label>/``)::

    clean/<id>.png        the reference (uint8, lossless)
    noisy/<id>.npy|.png   the input: float32 .npy when not quantised, else PNG; real-noise sets: the set's PNG
    manifest.json         dataset, split, noise params, base seed and each image's derived seed and shape

Running it twice gives byte-identical files: seeds derive from (dataset, image id, noise label, base seed), and
nothing time-dependent is written.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from denoisebench.config import Cell
from denoisebench.errors import ConfigError, ImageSizeError, MissingInputError
from denoisebench.fsutil import atomic_dir, write_json_atomic
from denoisebench.imageio import centre_crop, list_images, read_image, write_image

MANIFEST = "manifest.json"


def noise_overrides(clip: bool | None, quantize: bool | None) -> dict[str, bool]:
    """The synthesize stage's clip/quantize params (None keeps each noise model's protocol default)."""
    return {k: v for k, v in (("clip", clip), ("quantize", quantize)) if v is not None}


def build_cell_noise(noise_text: str, overrides: dict[str, bool], data_root: Path | None = None) -> Any:
    """Noise model for a spec text, with the stage's clip/quantize overrides unless the spec sets them itself.

    The CBDNet pipeline reads its CRF tables from ``<data_root>/CBDNet_CRF`` (the ``cbdnet_crf`` dataset) unless the
    spec names ``crf_dir``. The cell's label stays the spec's label: clip/quantize are recorded in the manifest.
    """
    from denoisebench.noise import build_noise, parse_noise_spec

    spec = parse_noise_spec(noise_text)
    params = {**{k: v for k, v in overrides.items() if k not in spec.params}, **spec.params}
    if spec.name == "cbdnet" and "crf_dir" not in params and data_root is not None:
        from denoisebench.datasets import dataset_dir

        params["crf_dir"] = str(dataset_dir("cbdnet_crf", data_root))
    return build_noise({"name": spec.name, **params})


def _noisy_suffix(image: np.ndarray) -> str:
    """Lossless suffix: PNG when the noisy image is exactly representable in uint8, else float32 .npy."""
    scaled = image.astype(np.float64) * 255.0
    exact = image.min() >= 0.0 and image.max() <= 1.0 and np.allclose(scaled, np.rint(scaled), atol=1e-3)
    return ".png" if exact else ".npy"


def repeat_id(image_id: str, k: int, repeats: int) -> str:
    """Id of realisation ``k`` of an image: the image id itself when the cell has one realisation, else
    ``<id>_r<k>``."""
    return image_id if repeats == 1 else f"{image_id}_r{k}"


def realisation_seed(cell: Cell, image_id: str, k: int, seed: int) -> int:
    """Seed of realisation ``k``: realisation 0 keeps the single-realisation seed, so adding repeats leaves the
    first realisation's noise (and results computed from it) unchanged."""
    from denoisebench.noise import derive_seed

    return derive_seed(cell.dataset, image_id, cell.label if k == 0 else f"{cell.label}#r{k}", seed)


@dataclass(frozen=True)
class CellPair:
    """One clean/noisy pair of a test cell, exactly as the synthesize stage writes it.

    ``image_id`` is the realisation's id (``<id>_r<k>`` with repeats), ``source_id`` the dataset image id and
    ``seed`` the realisation's noise seed (None for real noise).
    """

    image_id: str
    source_id: str
    seed: int | None
    clean: np.ndarray
    noisy: np.ndarray


def cell_noise_model(cell: Cell, data_root: Path, overrides: dict[str, bool]) -> Any:
    """The noise model of a synthetic cell (None for real noise)."""
    return None if cell.is_real else build_cell_noise(cell.noise, overrides, data_root)


def cell_pairs(cell: Cell, data_root: Path, seed: int, overrides: dict[str, bool],
               model: Any = None) -> Iterator[CellPair]:
    """The clean/noisy pairs of one cell, in the stage's order: centre crop first (clean and noisy alike), then
    synthetic noise with each realisation's seed (:func:`realisation_seed`).

    The synthesize stage writes these pairs; paper stages that need probe images use them too (through
    :mod:`denoisebench.probes`), so a figure's noisy image is byte-identical to the one the tables scored.
    ``model``: the cell's noise model when the caller built it already (:func:`cell_noise_model`).
    """
    from denoisebench.datasets import list_samples

    samples = list_samples(cell.dataset, data_root, split=cell.split, limit=cell.limit)
    model = model if model is not None else cell_noise_model(cell, data_root, overrides)
    crop = (lambda image: centre_crop(image, cell.crop)) if cell.crop else (lambda image: image)
    for sample in samples:
        try:
            clean = crop(sample.clean())
        except ValueError as exc:
            raise ImageSizeError(f"test set {cell.testset!r}, image {sample.id}: {exc}") from exc
        if model is None:
            noisy = sample.noisy()
            if noisy is None:
                raise ConfigError(f"params.yaml: test set {cell.testset!r}: dataset {cell.dataset!r} has no noisy "
                                  "images; give it a synthetic noise spec instead of 'real'")
            yield CellPair(sample.id, sample.id, None, clean, crop(noisy))
            continue
        for k in range(cell.repeats):
            image_seed = realisation_seed(cell, sample.id, k, seed)
            yield CellPair(repeat_id(sample.id, k, cell.repeats), sample.id, image_seed, clean,
                           model.apply(clean, np.random.default_rng(image_seed)))


def synthesize_cell(cell: Cell, data_root: Path, out_root: Path, seed: int, overrides: dict[str, bool]) -> Path:
    """Write one test cell (see module docstring) and return its folder.

    ``cell.crop`` centre-crops clean and noisy images alike (before noise is added, for synthetic noise);
    ``cell.repeats`` > 1 writes that many noise realisations per image, ids ``<id>_r<k>``, each with its own clean
    copy so that scoring pairs stay one-to-one (the mean over all rows is then the mean over images of the mean
    over realisations, as the N2N/B2U protocol averages).
    """
    out = out_root / cell.testset / cell.label
    with atomic_dir(out, replace=True) as tmp:  # a failure keeps the previous cell; never a half-written one
        _write_cell(cell, data_root, tmp, seed, overrides)
    return out


def _write_cell(cell: Cell, data_root: Path, out: Path, seed: int, overrides: dict[str, bool]) -> None:
    """The body of :func:`synthesize_cell`, writing into ``out``."""
    model = cell_noise_model(cell, data_root, overrides)
    records = []
    for pair in cell_pairs(cell, data_root, seed, overrides, model):
        write_image(out / "clean" / f"{pair.image_id}.png", pair.clean)
        suffix = _noisy_suffix(pair.noisy)
        write_image(out / "noisy" / f"{pair.image_id}{suffix}", pair.noisy)
        records.append({"id": pair.image_id, "source_id": pair.source_id, "seed": pair.seed,
                        "shape": list(pair.clean.shape), "noisy_file": f"{pair.image_id}{suffix}"})
    write_json_atomic(out / MANIFEST, {
        "testset": cell.testset,
        "dataset": cell.dataset,
        "split": cell.split,
        "noise": cell.noise,
        "label": cell.label,
        "noise_params": None if model is None else dict(model.params),
        "sigma": None if model is None else getattr(model, "sigma", None),
        "base_seed": None if model is None else seed,
        "limit_images": cell.limit,
        "crop": cell.crop,
        "repeats": cell.repeats,
        "images": records,
    })


def synthesize_folder(input_dir: Path, output_dir: Path, noise_text: str, seed: int,
                      overrides: dict[str, bool] | None = None,
                      progress: Callable[[list[Path]], Iterable[Path]] | None = None) -> Path:
    """Add noise to every image of a folder (the ``denoisebench synthesize`` command); writes a manifest too.

    Seeds derive from the input folder's name and each file stem, so the same folder gives the same output.
    ``progress`` wraps the list of input files (e.g. a progress bar).
    """
    from denoisebench.noise import derive_seed

    model = build_cell_noise(noise_text, overrides or {})
    label = model_label(noise_text)
    dataset = Path(input_dir).resolve().name
    paths = list_images(input_dir)
    if not paths:
        raise MissingInputError(f"{input_dir}: no images found (readable suffixes: png, jpg, bmp, tif, npy)")
    records = []
    # Everything is written to a temporary folder published at the end (manifest last): a corrupt input or any
    # other failure leaves no noisy files without their manifest.
    with atomic_dir(output_dir, last=(MANIFEST,)) as tmp:
        for path in (progress or iter)(paths):
            clean = read_image(path)
            image_seed = derive_seed(dataset, path.stem, label, seed)
            noisy = model.apply(clean, np.random.default_rng(image_seed))
            suffix = _noisy_suffix(noisy)
            write_image(tmp / f"{path.stem}{suffix}", noisy)
            records.append({"id": path.stem, "source": path.name, "seed": image_seed,
                            "noisy_file": f"{path.stem}{suffix}"})
        write_json_atomic(tmp / MANIFEST, {
            "input": os.fspath(input_dir), "noise": noise_text, "label": label, "noise_params": dict(model.params),
            "base_seed": seed, "images": records,
        })
    return Path(output_dir)


def model_label(noise_text: str) -> str:
    from denoisebench.noise import parse_noise_spec

    return parse_noise_spec(noise_text).label


def read_manifest(cell_dir: Path) -> dict[str, Any]:
    """The manifest of a synthesized cell."""
    import json

    path = cell_dir / MANIFEST
    if not path.is_file():
        raise MissingInputError(f"{path}: missing; run the synthesize stage (dvc repro synthesize)")
    return json.loads(path.read_text(encoding="utf-8"))

"""Score a folder of restored images against a folder of references (the ``denoisebench score`` command).

Pairs are matched by file stem. References are 8-bit images (read as exact uint8) or ``.npy``; restored images
may be 8-bit files (taken as already quantised) or ``.npy`` float predictions (quantised by the protocol).
"""

from __future__ import annotations

import json
import math
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Mapping

import numpy as np

from denoisebench.errors import ConfigError, ImageSizeError, MissingPairError
from denoisebench.imageio import list_images, read_image, read_uint8
from denoisebench.metrics import Protocol, evaluate_pair, resolve_protocol

if TYPE_CHECKING:
    import pandas as pd

PathLike = str | os.PathLike[str]
ProtocolSpec = Protocol | str | Mapping[str, Any]


def _by_stem(folder: PathLike) -> dict[str, Path]:
    files: dict[str, Path] = {}
    for path in list_images(folder):
        if path.stem in files:
            raise MissingPairError(
                f"{folder}: cannot pair by name, {files[path.stem].name} and {path.name} share the stem "
                f"{path.stem!r}; keep one of them"
            )
        files[path.stem] = path
    return files


def pair_files(reference_dir: PathLike, restored_dir: PathLike) -> list[tuple[str, Path, Path]]:
    """(stem, reference file, restored file) for every image, sorted by stem.

    Raises:
        MissingPairError: a file of either folder has no counterpart, a stem is ambiguous, or no images exist.
        ImageReadError: a folder does not exist.
    """
    refs, outs = _by_stem(reference_dir), _by_stem(restored_dir)
    if not refs:
        raise MissingPairError(f"{reference_dir}: no reference images found (suffixes .png, .npy, ...)")
    problems = []
    missing = sorted(set(refs) - set(outs))
    extra = sorted(set(outs) - set(refs))
    if missing:
        problems.append(f"no restored image in {restored_dir} for {', '.join(refs[s].name for s in missing)}")
    if extra:
        problems.append(f"no reference in {reference_dir} for {', '.join(outs[s].name for s in extra)}")
    if problems:
        raise MissingPairError("; ".join(problems) + "; every image needs exactly one file of the same name in both")
    return [(stem, refs[stem], outs[stem]) for stem in sorted(refs)]


def _load(path: Path) -> np.ndarray:
    """8-bit files as exact uint8 (no float round trip); ``.npy`` as stored."""
    return read_image(path) if path.suffix.lower() == ".npy" else read_uint8(path)


def _columns(protocols: Mapping[str, Protocol]) -> dict[str, tuple[str, str]]:
    names = list(protocols)
    return {name: ("psnr", "ssim") if i == 0 else (f"psnr_{name}", f"ssim_{name}") for i, name in enumerate(names)}


def score_pair(
    reference_path: PathLike, restored_path: PathLike, protocols: Mapping[str, Protocol]
) -> dict[str, float]:
    """Metrics of one file pair under each protocol, keyed by column name (see :func:`score_folders`)."""
    ref, out = _load(Path(reference_path)), _load(Path(restored_path))
    row: dict[str, float] = {}
    for name, (psnr_col, ssim_col) in _columns(protocols).items():
        try:
            values = evaluate_pair(ref, out, protocols[name])
        except ImageSizeError as exc:
            raise ImageSizeError(f"{reference_path} vs {restored_path}: {exc}") from None
        except ValueError as exc:
            raise ValueError(f"{reference_path} vs {restored_path}: {exc}") from exc
        row[psnr_col], row[ssim_col] = values["psnr"], values["ssim"]
    return row


def _resolve_all(protocols: Mapping[str, ProtocolSpec] | None) -> dict[str, Protocol]:
    if protocols is None:
        return {"default": resolve_protocol(None)}
    if not protocols:
        raise ConfigError("protocols is empty; pass at least one, e.g. {'default': Protocol()}")
    resolved = {}
    for name, spec in protocols.items():
        if not isinstance(name, str) or not name.isidentifier():
            raise ConfigError(f"metric protocol name {name!r} is invalid; use a name like 'shave3' (letters, _)")
        resolved[name] = resolve_protocol(spec)
    return resolved


def score_folders(
    reference_dir: PathLike,
    restored_dir: PathLike,
    protocols: Mapping[str, ProtocolSpec] | None = None,
    workers: int = 1,
    track: Callable[[list[Any]], Iterable[Any]] | None = None,
) -> pd.DataFrame:
    """Per-image PSNR/SSIM of every restored image against its reference.

    Args:
        reference_dir: folder of ground-truth images.
        restored_dir: folder of restored images with the same stems (``.png`` or float ``.npy``).
        protocols: name -> Protocol (or a registered name / mapping). The first gives columns ``psnr`` and
            ``ssim``; each other one ``psnr_<name>`` and ``ssim_<name>``. None means ``{"default": Protocol()}``.
        workers: threads scoring images concurrently (NumPy/SciPy release the GIL for most of the work).
        track: wraps the list of image pairs, e.g. in a progress bar (one step per scored image).

    Returns:
        A DataFrame with column ``image`` (the stem) then the metric columns, one row per image sorted by stem.
        ``df.attrs["protocols"]`` maps each protocol name to its fields, description and columns.
    """
    import pandas as pd

    resolved = _resolve_all(protocols)
    pairs = pair_files(reference_dir, restored_dir)

    def run(pair: tuple[str, Path, Path]) -> dict[str, Any]:
        return {"image": pair[0], **score_pair(pair[1], pair[2], resolved)}

    if workers > 1 and len(pairs) > 1:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            rows = list(pool.map(run, pairs))
    else:
        rows = [run(pair) for pair in (track(pairs) if track else pairs)]
    columns = ["image"] + [c for cols in _columns(resolved).values() for c in cols]
    df = pd.DataFrame(rows, columns=columns)
    df.attrs["protocols"] = {
        name: {**p.to_dict(), "description": p.describe(), "columns": list(_columns(resolved)[name])}
        for name, p in resolved.items()
    }
    return df


def summarize(df: pd.DataFrame) -> dict[str, Any]:
    """Means of every metric column over the images, plus ``n_images``.

    A PSNR column containing ``inf`` (an image restored exactly) has an ``inf`` mean.
    """
    summary: dict[str, Any] = {"n_images": int(len(df))}
    for column in df.columns:
        if column != "image":
            summary[column] = float(df[column].mean()) if len(df) else math.nan
    return summary


def _finite_or_none(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def format_scores(df: pd.DataFrame, as_json: bool = False) -> str:
    """Per-image and mean scores as a plain-text table, or as JSON (non-finite numbers become ``null``)."""
    protocols = df.attrs.get("protocols", {})
    summary = summarize(df)
    if as_json:
        payload = {
            "protocols": protocols,
            "images": [{k: _finite_or_none(v) for k, v in row.items()} for row in df.to_dict(orient="records")],
            "mean": {k: _finite_or_none(v) for k, v in summary.items() if k != "n_images"},
            "n_images": summary["n_images"],
        }
        return json.dumps(payload, indent=2, allow_nan=False)
    means = {"image": "mean", **{k: v for k, v in summary.items() if k != "n_images"}}
    table = _with_row(df, means)
    lines = [f"{name}: {info.get('description', '')}" for name, info in protocols.items()]
    lines.append(table.to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    lines.append(f"n_images: {summary['n_images']}")
    return "\n".join(lines)


def _with_row(df: pd.DataFrame, row: Mapping[str, Any]) -> pd.DataFrame:
    """``df`` with one extra row appended (used for the mean line of the text table)."""
    import pandas as pd

    return pd.concat([df, pd.DataFrame([dict(row)], columns=df.columns)], ignore_index=True)


__all__ = ["format_scores", "pair_files", "score_folders", "score_pair", "summarize"]

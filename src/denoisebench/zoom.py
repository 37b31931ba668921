"""Zoomed visual comparison of several denoisers on one test image (paper 004's Fig. 4 analogue, and the report
stage's per-paper comparison).

Reads, for one test image of one cell (``--testset``/``--label``) and every ``--rows`` entry (row title -> method
entry; the pipeline's existing outputs, nothing is recomputed except PSNR where no score exists):

    <data>/<testset>/<label>/clean/<id>.png                      clean reference (exact uint8)
    <predictions>/<entry>/<testset>/<label>/<id>.npy|.png        the entry's prediction
    <data>/<testset>/<label>/noisy/<id>.npy|.png                 the noisy input (fallback for the entry "noisy")
    <scores>/<entry>/per_image.csv (+ meta.json)                 whole-image PSNR, default protocol, when present

A row whose entry has no prediction for the image is left out with a warning; fewer than 2 rows is an error.
PSNR is taken from ``per_image.csv`` when the entry's scores use the default protocol (RGB, output clipped and
rounded to uint8, no border), otherwise computed on the whole image with ``denoisebench.metrics.psnr``.
The zoom box is the ``--crop`` x ``--crop`` window of highest local variance of the clean image, or ``--box y,x``.

Writes (atomically, parent folders created):

    --out   PNG: the full clean image with the zoom box, then the zoomed crop of every row ("<row> <PSNR> dB")
            and of the clean image
    --csv   row, entry, image, psnr, box (``y,x,side``), psnr_source (scores_csv | computed), file

    python -m denoisebench.zoom --testset kodak24 --label awgn_sigma25 \
        --rows '{"Noisy": "noisy", "CBM3D": "bm3d", "Separate": "liu_separate_s25"}' --crop 96 --out zoom.png
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from denoisebench.errors import ConfigError, DenoiseBenchError, ImageReadError, MissingPairError
from denoisebench.fsutil import atomic_path, write_text_atomic
from denoisebench.imageio import read_image, read_uint8, to_uint8
from denoisebench.metrics import DEFAULT_PROTOCOL, psnr
from denoisebench.config import load_params
from denoisebench.stage_support import LOG, apply_profile_defaults, setup_logging

DEFAULT_ROWS = {"Noisy": "noisy", "BM3D": "bm3d"}
#: prediction suffixes tried in this order (the pipeline writes .npy; .png is accepted)
PRED_SUFFIXES = (".npy", ".png")
NOISY_ENTRY = "noisy"
CSV_FIELDS = ["row", "entry", "image", "psnr", "box", "psnr_source", "file"]


@dataclass(frozen=True)
class Layout:
    """Where the pipeline keeps its outputs."""

    data: Path = Path("data/noisy")
    predictions: Path = Path("results/predictions")
    scores: Path = Path("results/scores")

    def clean_dir(self, testset: str, label: str) -> Path:
        return self.data / testset / label / "clean"

    def noisy_dir(self, testset: str, label: str) -> Path:
        return self.data / testset / label / "noisy"

    def pred_dir(self, entry: str, testset: str, label: str) -> Path:
        return self.predictions / entry / testset / label


@dataclass(frozen=True)
class Row:
    """One panel of the figure: a row title, its method entry, the file shown and its whole-image PSNR."""

    title: str
    entry: str
    file: Path
    psnr: float = math.nan
    psnr_source: str = ""


# ----------------------------------------------------------------------------------------------------------------
# Inputs


def parse_rows(text: str) -> dict[str, str]:
    """``--rows`` JSON object (row title -> method entry), order kept."""
    try:
        rows = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"--rows is not valid JSON ({exc}); pass an object like '{{\"CBM3D\": \"bm3d\"}}'") from exc
    if not isinstance(rows, dict) or not rows or not all(isinstance(k, str) and isinstance(v, str) and v
                                                         for k, v in rows.items()):
        raise ConfigError(f"--rows must be a non-empty JSON object of row title -> method entry, got {text!r}")
    return rows


def parse_box(text: str | None) -> tuple[int, int] | None:
    """``--box y,x`` (top-left corner of the zoom box) or None."""
    if text is None:
        return None
    try:
        y, x = (int(v) for v in text.split(","))
    except ValueError as exc:
        raise ConfigError(f"--box {text!r} is invalid; give the top-left corner as two integers 'y,x'") from exc
    return y, x


def candidate_files(layout: Layout, entry: str, testset: str, label: str, image_id: str) -> list[Path]:
    """Files that may hold the entry's image, in order of preference (the noisy input for the entry "noisy")."""
    folders = [layout.pred_dir(entry, testset, label)]
    if entry == NOISY_ENTRY:
        folders.append(layout.noisy_dir(testset, label))
    return [folder / f"{image_id}{suffix}" for folder in folders for suffix in PRED_SUFFIXES]


def locate(layout: Layout, entry: str, testset: str, label: str, image_id: str) -> Path | None:
    """The first existing candidate file, or None."""
    return next((p for p in candidate_files(layout, entry, testset, label, image_id) if p.is_file()), None)


def clean_ids(layout: Layout, testset: str, label: str) -> list[str]:
    """Ids of the clean references of the cell, sorted."""
    folder = layout.clean_dir(testset, label)
    if not folder.is_dir():
        raise ImageReadError(f"{folder}: no clean references for {testset}/{label}; run the synthesize stage "
                             f"(dvc repro synthesize) or check --testset/--label/--data")
    ids = sorted(p.stem for p in folder.iterdir() if p.is_file() and p.suffix.lower() == ".png")
    if not ids:
        raise ImageReadError(f"{folder}: no .png clean references; run the synthesize stage or check --data")
    return ids


def choose_image(layout: Layout, rows: dict[str, str], testset: str, label: str) -> str:
    """The first image (by name) present for all rows; failing that, the first one present for the most rows."""
    ids = clean_ids(layout, testset, label)
    counts = {i: sum(locate(layout, e, testset, label, i) is not None for e in rows.values()) for i in ids}
    return max(ids, key=lambda i: (counts[i], -ids.index(i)))


def resolve_rows(layout: Layout, rows: dict[str, str], testset: str, label: str, image_id: str) -> list[Row]:
    """Rows whose entry has a file for the image; the others are logged and dropped.

    Raises:
        MissingPairError: fewer than 2 rows remain (the message lists the files looked for).
    """
    found: list[Row] = []
    missing: list[str] = []
    for title, entry in rows.items():
        path = locate(layout, entry, testset, label, image_id)
        if path is None:
            tried = ", ".join(str(p) for p in candidate_files(layout, entry, testset, label, image_id))
            LOG.warning("row %r (entry %s) left out: no prediction for %s (looked for %s)",
                        title, entry, image_id, tried)
            missing.append(f"{title!r} ({tried})")
            continue
        found.append(Row(title, entry, path))
    if len(found) < 2:
        raise MissingPairError(
            f"only {len(found)} of {len(rows)} rows have a prediction for {testset}/{label}/{image_id}; missing: "
            f"{'; '.join(missing)}. A comparison needs at least 2 rows: run the predict stage for those entries, "
            f"or choose another --image/--rows"
        )
    return found


def load_exact(path: Path) -> np.ndarray:
    """8-bit files as exact uint8, ``.npy`` as stored float (as the score stage reads them)."""
    return read_image(path) if path.suffix.lower() == ".npy" else read_uint8(path)


def display_uint8(image: np.ndarray) -> np.ndarray:
    """What is shown: uint8 as is, float clipped and rounded (the default protocol's quantisation)."""
    return image if image.dtype == np.uint8 else to_uint8(image)


# ----------------------------------------------------------------------------------------------------------------
# PSNR


def scores_psnr(layout: Layout, entry: str, testset: str, label: str, image_id: str) -> float | None:
    """PSNR of ``per_image.csv`` when the entry's scores exist, use the default protocol and list the image."""
    folder = layout.scores / entry
    table = folder / "per_image.csv"
    if not table.is_file():
        return None
    meta_path = folder / "meta.json"
    if meta_path.is_file():
        protocol = json.loads(meta_path.read_text()).get("protocol")
        if protocol is not None and protocol != DEFAULT_PROTOCOL.to_dict():
            LOG.info("%s: psnr column uses protocol %s, not the default; computing PSNR", table, protocol)
            return None
    with table.open(newline="") as fh:
        for rec in csv.DictReader(fh):
            if (rec.get("testset"), rec.get("noise"), rec.get("image")) == (testset, label, image_id):
                value = rec.get("psnr", "")
                return float(value) if value not in ("", None) else None
    return None


def with_psnr(layout: Layout, row: Row, clean: np.ndarray, testset: str, label: str, image_id: str) -> Row:
    """The row with its whole-image PSNR (scores CSV preferred, computed otherwise)."""
    value = scores_psnr(layout, row.entry, testset, label, image_id)
    if value is not None:
        return Row(row.title, row.entry, row.file, value, "scores_csv")
    try:
        value = psnr(clean, load_exact(row.file), DEFAULT_PROTOCOL)
    except ValueError as exc:
        raise ImageReadError(f"{row.file} does not match its reference ({exc}); re-run the predict stage") from exc
    return Row(row.title, row.entry, row.file, value, "computed")


# ----------------------------------------------------------------------------------------------------------------
# Zoom box


def _window_sums(arr: np.ndarray, side: int) -> np.ndarray:
    """Sum over every ``side`` x ``side`` window of (H, W, ...) via an integral image: (H-side+1, W-side+1, ...)."""
    integral = np.zeros((arr.shape[0] + 1, arr.shape[1] + 1) + arr.shape[2:], dtype=np.float64)
    integral[1:, 1:] = arr.cumsum(axis=0).cumsum(axis=1)
    return (integral[side:, side:] - integral[:-side, side:] - integral[side:, :-side] + integral[:-side, :-side])


def local_variance(image: np.ndarray, side: int) -> np.ndarray:
    """Variance (summed over channels) of every ``side`` x ``side`` window; index (y, x) = top-left corner."""
    x = np.asarray(image, dtype=np.float64)
    if x.ndim == 2:
        x = x[:, :, None]
    x = x - x.mean(axis=(0, 1))  # centring keeps the E[x^2] - E[x]^2 difference accurate
    n = float(side * side)
    mean = _window_sums(x, side) / n
    var = _window_sums(x * x, side) / n - mean * mean
    return np.maximum(var, 0.0).sum(axis=-1)


def check_crop(shape: tuple[int, ...], side: int) -> None:
    if side < 1 or side > min(shape[:2]):
        raise ConfigError(f"--crop {side} is invalid for an image of {shape[0]}x{shape[1]} pixels; "
                          f"use 1..{min(shape[:2])}")


def best_box(image: np.ndarray, side: int) -> tuple[int, int]:
    """Top-left corner (y, x) of the ``side`` x ``side`` window of highest local variance (first on ties)."""
    check_crop(image.shape, side)
    var = local_variance(image, side)
    y, x = np.unravel_index(int(np.argmax(var)), var.shape)
    return int(y), int(x)


def check_box(shape: tuple[int, ...], box: tuple[int, int], side: int) -> tuple[int, int]:
    check_crop(shape, side)
    y, x = box
    if not (0 <= y <= shape[0] - side and 0 <= x <= shape[1] - side):
        raise ConfigError(f"--box {y},{x} with --crop {side} leaves the {shape[0]}x{shape[1]} image; use "
                          f"0 <= y <= {shape[0] - side} and 0 <= x <= {shape[1] - side}")
    return box


def crop(image: np.ndarray, box: tuple[int, int], side: int) -> np.ndarray:
    y, x = box
    return image[y:y + side, x:x + side]


# ----------------------------------------------------------------------------------------------------------------
# Outputs


def psnr_text(value: float) -> str:
    return "inf dB" if math.isinf(value) else f"{value:.2f} dB"


def _show(ax: Any, image: np.ndarray, title: str) -> None:
    data = display_uint8(image)
    if data.shape[2] == 1:
        ax.imshow(data[:, :, 0], cmap="gray", vmin=0, vmax=255, interpolation="nearest")
    else:
        ax.imshow(data, interpolation="nearest")
    ax.set_title(title, fontsize=9)
    ax.set_xticks([])
    ax.set_yticks([])


def render(clean: np.ndarray, rows: list[Row], images: list[np.ndarray], box: tuple[int, int], side: int,
           title: str, max_cols: int = 3) -> bytes:
    """The figure as PNG bytes: full clean image with the box on top, then the crops (rows, then clean)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    panels = [(img, f"{r.title} {psnr_text(r.psnr)}") for r, img in zip(rows, images)] + [(clean, "Clean")]
    ncols = min(len(panels), max_cols)
    nlines = math.ceil(len(panels) / ncols)
    h, w = clean.shape[:2]
    top_height = ncols * h / w  # the full image spans all columns
    fig = plt.figure(figsize=(3.0 * ncols, 3.0 * (top_height + nlines) + 0.6))
    grid = fig.add_gridspec(1 + nlines, ncols, height_ratios=[top_height] + [1.0] * nlines)
    top = fig.add_subplot(grid[0, :])
    _show(top, clean, f"{title}: clean image, zoom box {side}x{side} at (y={box[0]}, x={box[1]})")
    top.add_patch(Rectangle((box[1] - 0.5, box[0] - 0.5), side, side, fill=False, edgecolor="red", linewidth=1.5))
    for i, (img, label) in enumerate(panels):
        _show(fig.add_subplot(grid[1 + i // ncols, i % ncols]), crop(img, box, side), label)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    plt.close(fig)
    return buf.getvalue()


def write_png(path: Path, data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def csv_text(rows: list[Row], image_id: str, box: tuple[int, int], side: int) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=CSV_FIELDS, lineterminator="\n")
    writer.writeheader()
    for r in rows:
        writer.writerow({"row": r.title, "entry": r.entry, "image": image_id, "psnr": f"{r.psnr:.4f}",
                         "box": f"{box[0]},{box[1]},{side}", "psnr_source": r.psnr_source, "file": str(r.file)})
    return buf.getvalue()


# ----------------------------------------------------------------------------------------------------------------
# Entry point


def build(args: argparse.Namespace) -> tuple[list[Row], str, tuple[int, int]]:
    """Resolve, score and draw; returns the rows shown, the image id and the box."""
    layout = Layout(Path(args.data), Path(args.predictions), Path(args.scores))
    rows_spec = parse_rows(args.rows)
    image_id = args.image or choose_image(layout, rows_spec, args.testset, args.label)
    clean_path = layout.clean_dir(args.testset, args.label) / f"{image_id}.png"
    if not clean_path.is_file():
        raise ImageReadError(f"{clean_path}: no clean reference for --image {image_id}; valid ids: "
                             f"{', '.join(clean_ids(layout, args.testset, args.label))}")
    clean = read_uint8(clean_path)
    rows = resolve_rows(layout, rows_spec, args.testset, args.label, image_id)
    images = [load_exact(r.file) for r in rows]
    for r, img in zip(rows, images):
        if img.shape != clean.shape:
            raise ImageReadError(f"{r.file}: shape {img.shape} differs from the clean {clean_path} {clean.shape}; "
                                 f"re-run the predict stage for {r.entry}")
    rows = [with_psnr(layout, r, clean, args.testset, args.label, image_id) for r in rows]
    given = parse_box(args.box)
    box = check_box(clean.shape, given, args.crop) if given else best_box(clean, args.crop)
    title = f"{args.testset}/{args.label}/{image_id}"
    out = Path(args.out)
    write_png(out, render(clean, rows, images, box, args.crop, title))
    write_text_atomic(Path(args.csv) if args.csv else out.with_suffix(".csv"),
                      csv_text(rows, image_id, box, args.crop))
    return rows, image_id, box


def parser(rows: dict[str, str] | None = None, out: str = "zoom.png",
           csv_path: str | None = None) -> argparse.ArgumentParser:
    """The options, with a caller's default rows and output paths (``--csv`` defaults to ``--out`` as .csv)."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--testset", default="kodak24")
    p.add_argument("--label", default="awgn_sigma25", help="noise label (folder name), e.g. awgn_sigma50")
    p.add_argument("--image", default=None, help="image id; default: the first image present for all rows")
    p.add_argument("--rows", default=json.dumps(rows or DEFAULT_ROWS), help="JSON object: row title -> method entry")
    p.add_argument("--crop", type=int, default=96, help="side of the zoom box in pixels")
    p.add_argument("--box", default=None, help="top-left corner 'y,x' of the zoom box; default: highest variance")
    p.add_argument("--out", default=out)
    p.add_argument("--csv", default=csv_path, help="default: --out with the suffix .csv")
    p.add_argument("--data", default="data/noisy", help="root of <testset>/<label>/{clean,noisy}")
    p.add_argument("--predictions", default="results/predictions")
    p.add_argument("--scores", default="results/scores")
    p.add_argument("--params", default="params.yaml",
                   help="params file whose <section>.<profile> section (if any) sets the defaults of these options")
    return p


def main(argv: Sequence[str] | None = None, *, section: str | None = None, rows: dict[str, str] | None = None,
         out: str = "zoom.png", csv_path: str | None = None) -> None:
    """Draw the comparison; ``section`` names the params section (``<section>.<profile>``) that sets defaults."""
    setup_logging()
    p = parser(rows, out, csv_path)
    params_file = Path(p.parse_known_args(argv)[0].params)
    if section and params_file.is_file() and section in (load_params(params_file) or {}):
        apply_profile_defaults(p, section, None if argv is None else list(argv))
    args = p.parse_args(argv)
    try:
        rows, image_id, box = build(args)
    except DenoiseBenchError as exc:
        LOG.error("%s", exc)
        raise SystemExit(2) from exc
    for r in rows:
        LOG.info("%s (%s): %s [%s]", r.title, r.entry, psnr_text(r.psnr), r.psnr_source)
    LOG.info("wrote %s (image %s, box y=%d x=%d side %d)", args.out, image_id, box[0], box[1], args.crop)


if __name__ == "__main__":
    from denoisebench.stage_support import run_stage

    run_stage(main)

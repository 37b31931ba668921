"""Reading and writing images.

In-memory convention used everywhere in the package: a ``numpy.float32`` array of shape (H, W, C) with
C in {1, 3}, nominal range [0, 1] (noisy images may leave it). Lossless formats: PNG for uint8 content,
``.npy`` for float content (unclipped noisy inputs, float predictions). Inputs: 8/16-bit grey and colour, palette
and alpha images are read as :func:`read_pixels` describes (16-bit rescaled, alpha dropped with a warning when it
is not fully opaque, float TIFF refused).
"""

from __future__ import annotations

import logging
import os
import re
import warnings
from pathlib import Path

import numpy as np

from denoisebench.errors import ConfigError, ImageReadError
from denoisebench.fsutil import atomic_path

LOG = logging.getLogger("denoisebench")

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".npy")
#: Suffix -> format :func:`write_image` writes (``.npy``: float32 as is; the others: uint8 through Pillow).
WRITE_FORMATS = {".png": "PNG", ".npy": "NPY", ".tif": "TIFF", ".tiff": "TIFF", ".bmp": "BMP", ".jpg": "JPEG",
                 ".jpeg": "JPEG"}

#: Env var: the largest image (width x height, pixels) read; larger ones are refused before they are decoded.
MAX_PIXELS_ENV = "DENOISEBENCH_MAX_PIXELS"
#: Default pixel limit: 100 megapixels (a 10000 x 10000 image: 1.2 GB as float32 RGB). Pillow's own guard (a
#: warning above 89 megapixels, an error above twice that) is set to refuse exactly above this limit instead.
DEFAULT_MAX_PIXELS = 100_000_000


def max_pixels() -> int:
    """The pixel limit of :func:`read_image` (``$DENOISEBENCH_MAX_PIXELS``, default 100 megapixels)."""
    raw = os.environ.get(MAX_PIXELS_ENV, "").strip()
    if not raw:
        return DEFAULT_MAX_PIXELS
    try:
        value = int(float(raw))
    except ValueError as exc:
        raise ConfigError(f"${MAX_PIXELS_ENV}={raw!r}: expected a number of pixels (e.g. 400000000)") from exc
    if value <= 0:
        raise ConfigError(f"${MAX_PIXELS_ENV}={raw!r}: must be a positive number of pixels")
    return value


def _check_pixels(path: Path, width: int, height: int) -> None:
    limit = max_pixels()
    if width * height > limit:
        raise ImageReadError(f"{path}: {width}x{height} image ({width * height:,} pixels) exceeds the limit of "
                             f"{limit:,} pixels (a decompression bomb guard); raise ${MAX_PIXELS_ENV} to read it")


def is_image_file(path: str | os.PathLike[str]) -> bool:
    """True when the file suffix is one this module reads."""
    return Path(path).suffix.lower() in IMAGE_SUFFIXES


def list_images(folder: str | os.PathLike[str]) -> list[Path]:
    """Image files directly inside ``folder``, sorted by name."""
    root = Path(folder)
    if not root.is_dir():
        raise ImageReadError(f"{root}: no such folder of images; check the path (pipeline folders are written by "
                             "their stage: `dvc repro` it first)")
    return sorted(p for p in root.iterdir() if p.is_file() and is_image_file(p) and not p.name.startswith("."))


def read_image(path: str | os.PathLike[str], warn: bool = True) -> np.ndarray:
    """Read an image as float32 (H, W, C) in [0, 1]; C is 1 for grey and 3 for colour (see :func:`read_pixels`).

    ``.npy`` files: float arrays are returned as stored (noisy inputs may leave [0, 1]); uint8 / uint16 arrays are
    scaled by 1/255 / 1/65535. Non-finite values are refused. ``warn=False`` silences the alpha warning (for a
    second read of a file already checked).

    Raises:
        ImageReadError: the file is missing, of an unknown type, cannot be decoded or holds an unsupported image.
    """
    p = Path(path)
    if not p.is_file():
        raise ImageReadError(f"{p}: no such image file")
    if p.suffix.lower() == ".npy":
        return _read_npy(p)
    pixels = read_pixels(p, warn)
    return pixels.astype(np.float32) / np.float32(np.iinfo(pixels.dtype).max)


def _read_npy(p: Path) -> np.ndarray:
    try:
        header = np.load(p, mmap_mode="r", allow_pickle=False)  # the shape, before any pixel is read
        if header.ndim >= 2:
            _check_pixels(p, int(header.shape[1]), int(header.shape[0]))
        del header
        arr = np.load(p, allow_pickle=False)
    except ImageReadError:
        raise
    except Exception as exc:  # numpy raises several types for corrupt files
        raise ImageReadError(f"{p}: cannot read .npy image ({exc}); re-create the file") from exc
    if arr.dtype in (np.uint8, np.uint16):
        arr = arr.astype(np.float32) / np.float32(np.iinfo(arr.dtype).max)
    elif not np.issubdtype(arr.dtype, np.floating):
        raise ImageReadError(f"{p}: .npy image of dtype {arr.dtype}; store float (nominal range [0, 1]), uint8 "
                             "or uint16 pixels")
    arr = _as_hwc(arr.astype(np.float32, copy=False), p)
    if not np.isfinite(arr).all():
        raise ImageReadError(f"{p}: .npy image holds {int((~np.isfinite(arr)).sum())} NaN/inf values; re-create it")
    return arr


def read_uint8(path: str | os.PathLike[str]) -> np.ndarray:
    """Read an image file as uint8 (H, W, C), C in {1, 3}: 8-bit files exactly, 16-bit ones rescaled to 8 bits
    (``round(v / 257)``, so 65535 -> 255); see :func:`read_pixels` for palette and alpha."""
    pixels = read_pixels(path)
    if pixels.dtype == np.uint16:
        return np.rint(pixels / 257.0).astype(np.uint8)
    return pixels


#: Pillow modes converted to RGB (their colour is kept, in RGB coordinates).
_TO_RGB = ("CMYK", "YCbCr", "LAB", "HSV", "RGBX")
#: Pillow modes of 16-bit grey images.
_GREY16 = ("I;16", "I;16B", "I;16L", "I;16N")


def read_pixels(path: str | os.PathLike[str], warn: bool = True) -> np.ndarray:
    """Decode an image file to its integer pixels, (H, W, C) with C in {1, 3}, uint8 or uint16.

    What is read, and how:

    - 8-bit grey/RGB: as stored. 1-bit: 0/255. CMYK/YCbCr/LAB/HSV: converted to RGB.
    - 16-bit grey (PNG, TIFF): uint16, as stored (:func:`read_image` rescales by 1/65535, never clips).
      32-bit integer grey is accepted when its values lie in 0..65535.
    - 16-bit colour PNG/TIFF: Pillow decodes these to 8 bits per channel (the high byte of each sample: the scale is
      right, the precision is 8 bits, which is what the benchmark's uint8 protocol uses anyway).
    - Palette: expanded to RGB, or to grey when every palette colour used is grey.
    - Alpha (LA, RGBA, PA, palette transparency): dropped. When every pixel is fully opaque nothing is lost and
      nothing is said; otherwise a warning names the file and how many pixels are not opaque (their colour values
      are used as stored, not composited onto a background).
    - 32-bit float images are refused (store float images as ``.npy``), as are other modes.

    Images larger than :func:`max_pixels` are refused from their header, before they are decoded.

    Raises:
        ImageReadError: missing, undecodable, unsupported or too large file (the message names the file and the fix).
    """
    from PIL import Image, UnidentifiedImageError

    p = Path(path)
    limit = max_pixels()
    # Pillow checks the header's size when it opens a file: it raises above 2 x MAX_IMAGE_PIXELS (and warns above
    # MAX_IMAGE_PIXELS, which this limit replaces), so nothing larger than the limit is ever decoded.
    Image.MAX_IMAGE_PIXELS = limit / 2
    warnings.filterwarnings("ignore", category=Image.DecompressionBombWarning)
    try:
        with Image.open(p) as img:
            grey_alpha16 = _grey_with_alpha(img)  # read before load(), which clears the tile list
            img.load()
            arr = _pixels_of(img, p, grey_alpha16, warn)
    except FileNotFoundError as exc:
        raise ImageReadError(f"{p}: no such image file") from exc
    except ImageReadError:
        raise
    except Image.DecompressionBombError as exc:
        found = re.search(r"\((\d+) pixels\)", str(exc))
        size = f"{int(found.group(1)):,}" if found else "more"
        raise ImageReadError(f"{p}: image of {size} pixels exceeds the limit of {limit:,} pixels (a "
                             f"decompression bomb guard); raise ${MAX_PIXELS_ENV} to read it") from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise ImageReadError(f"{p}: cannot decode image ({exc}); the file is corrupt or not an image") from exc
    return _as_hwc(arr, p)


def _pixels_of(img, path: Path, grey_alpha16: bool = False, warn: bool = True) -> np.ndarray:
    """Pixels of a loaded Pillow image (see :func:`read_pixels`)."""
    mode = img.mode
    if mode in ("L", "RGB"):
        return np.asarray(img)
    if mode == "1":
        return np.asarray(img.convert("L"))
    if mode in _GREY16:
        return np.asarray(img).astype(np.uint16)
    if mode == "I":
        arr = np.asarray(img)
        if arr.size and (arr.min() < 0 or arr.max() > 65535):
            raise ImageReadError(f"{path}: 32-bit integer image with values in [{arr.min()}, {arr.max()}], outside "
                                 "the 16-bit range 0..65535; save it as an 8- or 16-bit image")
        return arr.astype(np.uint16)
    if mode in _TO_RGB:
        return np.asarray(img.convert("RGB"))
    if mode in ("P", "PA"):
        has_alpha = mode == "PA" or "transparency" in img.info
        arr = np.asarray(img.convert("RGBA" if has_alpha else "RGB"))
        colour = arr[..., :3]
        grey = bool((colour[..., 0] == colour[..., 1]).all() and (colour[..., 1] == colour[..., 2]).all())
        arr = np.concatenate([colour[..., :1], arr[..., 3:]], axis=2) if grey else arr
        return _drop_alpha(arr, path, warn) if has_alpha else arr
    if mode in ("LA", "La", "RGBA", "RGBa"):
        arr = np.asarray(img.convert("LA" if mode == "La" else "RGBA" if mode == "RGBa" else mode))
        if mode == "RGBA" and grey_alpha16:  # 16-bit grey+alpha PNG: Pillow decodes it to RGBA
            arr = arr[..., [0, 3]]
        return _drop_alpha(arr, path, warn)
    if mode in ("F", "I;16S", "I;32", "I;32B"):
        raise ImageReadError(f"{path}: {mode} images ({'float' if mode == 'F' else 'signed/32-bit integer'} pixels) "
                             "are not read as images; store float images as .npy (float32, range [0, 1])")
    raise ImageReadError(f"{path}: image mode {mode!r} is not supported; convert it to 8- or 16-bit grey or RGB")


def _grey_with_alpha(img) -> bool:
    """True for a PNG whose samples are grey + alpha (Pillow opens 16-bit ones as RGBA)."""
    tile = getattr(img, "tile", None) or []
    rawmode = tile[0].args if tile else None
    rawmode = rawmode[0] if isinstance(rawmode, tuple) else rawmode
    return isinstance(rawmode, str) and rawmode.startswith("LA")


def _drop_alpha(arr: np.ndarray, path: Path, warn: bool = True) -> np.ndarray:
    """The colour channels of an (H, W, C+1) array; warns when the alpha channel was not fully opaque."""
    alpha = arr[..., -1]
    opaque = np.iinfo(arr.dtype).max
    transparent = int((alpha != opaque).sum())
    if transparent and warn:
        LOG.warning("%s: alpha channel dropped; %d of %d pixels are not fully opaque and are used with their stored "
                    "colour (not composited onto a background); flatten the image first if that matters",
                    path, transparent, alpha.size)
    return arr[..., :-1]


def _as_hwc(arr: np.ndarray, path: Path) -> np.ndarray:
    if arr.ndim == 2:
        return arr[:, :, None]
    if arr.ndim == 3 and arr.shape[2] in (1, 3):
        return arr
    raise ImageReadError(f"{path}: expected an (H, W), (H, W, 1) or (H, W, 3) image, got shape {arr.shape}")


def to_float(arr: np.ndarray) -> np.ndarray:
    """uint8 -> float32 in [0, 1]."""
    return arr.astype(np.float32) / np.float32(255.0)


def to_uint8(arr: np.ndarray) -> np.ndarray:
    """float in [0, 1] -> uint8 by clipping and rounding (the KAIR/N2N convention)."""
    return np.clip(np.rint(np.asarray(arr, dtype=np.float64) * 255.0), 0, 255).astype(np.uint8)


def write_image(path: str | os.PathLike[str], image: np.ndarray) -> None:
    """Write an image atomically. ``.npy`` stores float32 as is; other suffixes store uint8 (clip + round).

    PNG is lossless for uint8; JPEG is allowed but lossy, so the pipeline never uses it for its own outputs.

    Raises:
        ConfigError: the suffix is not one of :data:`WRITE_FORMATS` (nothing is written).
    """
    from PIL import Image

    p = Path(path)
    fmt = WRITE_FORMATS.get(p.suffix.lower())
    if fmt is None:
        raise ConfigError(f"{p}: cannot write an image with suffix {p.suffix!r}; use one of "
                          f"{', '.join(WRITE_FORMATS)}")
    arr = np.asarray(image)
    if arr.ndim == 2:
        arr = arr[:, :, None]
    with atomic_path(p) as tmp:
        if fmt == "NPY":
            with open(tmp, "wb") as handle:
                np.save(handle, arr.astype(np.float32, copy=False), allow_pickle=False)
            return
        data = arr if arr.dtype == np.uint8 else to_uint8(arr)
        pil = Image.fromarray(data[:, :, 0] if data.shape[2] == 1 else data)
        pil.save(tmp, format=fmt)


def centre_crop(image: np.ndarray, size: int) -> np.ndarray:
    """The central ``size`` x ``size`` window (offsets ``(H - size) // 2``, ``(W - size) // 2``).

    Raises ValueError naming both sizes when the image is smaller than the window.
    """
    h, w = image.shape[:2]
    if h < size or w < size:
        raise ValueError(f"image of size {h}x{w} is smaller than the {size}x{size} centre crop; use a smaller crop")
    top, left = (h - size) // 2, (w - size) // 2
    return np.ascontiguousarray(image[top:top + size, left:left + size])


def centre_crop_at_most(image: np.ndarray, size: int | None) -> np.ndarray:
    """:func:`centre_crop`, but the whole image when ``size`` is 0/None, and at most the image along each side."""
    if not size:
        return image
    h, w = image.shape[:2]
    top, left = max((h - size) // 2, 0), max((w - size) // 2, 0)
    return np.ascontiguousarray(image[top:top + size, left:left + size])

"""Reading and writing images.

In-memory convention used everywhere in the package: a ``numpy.float32`` array of shape (H, W, C) with
C in {1, 3}, nominal range [0, 1] (noisy images may leave it). Lossless formats: PNG for uint8 content,
``.npy`` for float content (unclipped noisy inputs, float predictions).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from denoisebench.errors import ImageReadError
from denoisebench.fsutil import atomic_path

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".npy")


def is_image_file(path: str | os.PathLike[str]) -> bool:
    """True when the file suffix is one this module reads."""
    return Path(path).suffix.lower() in IMAGE_SUFFIXES


def list_images(folder: str | os.PathLike[str]) -> list[Path]:
    """Image files directly inside ``folder``, sorted by name."""
    root = Path(folder)
    if not root.is_dir():
        raise ImageReadError(f"{root}: not a folder of images")
    return sorted(p for p in root.iterdir() if p.is_file() and is_image_file(p) and not p.name.startswith("."))


def read_image(path: str | os.PathLike[str]) -> np.ndarray:
    """Read an image as float32 (H, W, C) in [0, 1] (``.npy`` files are returned as stored).

    Raises:
        ImageReadError: the file is missing, of an unknown type or cannot be decoded.
    """
    p = Path(path)
    if not p.is_file():
        raise ImageReadError(f"{p}: no such image file")
    if p.suffix.lower() == ".npy":
        try:
            arr = np.load(p, allow_pickle=False)
        except Exception as exc:  # numpy raises several types for corrupt files
            raise ImageReadError(f"{p}: cannot read .npy image ({exc}); re-create the file") from exc
        return _as_hwc(arr.astype(np.float32, copy=False), p)
    return to_float(read_uint8(p))


def read_uint8(path: str | os.PathLike[str]) -> np.ndarray:
    """Read an 8-bit image file as uint8 (H, W, C), C in {1, 3}; palette/alpha images are converted to RGB."""
    from PIL import Image, UnidentifiedImageError

    p = Path(path)
    try:
        with Image.open(p) as img:
            img.load()
            if img.mode not in ("L", "RGB"):
                img = img.convert("L" if img.mode in ("1", "I;16", "I") else "RGB")
            arr = np.asarray(img)
    except FileNotFoundError as exc:
        raise ImageReadError(f"{p}: no such image file") from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise ImageReadError(f"{p}: cannot decode image ({exc}); the file is corrupt or not an image") from exc
    return _as_hwc(arr, p)


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
    """
    from PIL import Image

    p = Path(path)
    arr = np.asarray(image)
    if arr.ndim == 2:
        arr = arr[:, :, None]
    with atomic_path(p) as tmp:
        if p.suffix.lower() == ".npy":
            with open(tmp, "wb") as handle:
                np.save(handle, arr.astype(np.float32, copy=False), allow_pickle=False)
            return
        data = arr if arr.dtype == np.uint8 else to_uint8(arr)
        pil = Image.fromarray(data[:, :, 0] if data.shape[2] == 1 else data)
        fmt = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".bmp": "BMP", ".tif": "TIFF", ".tiff": "TIFF"}
        pil.save(tmp, format=fmt.get(p.suffix.lower(), "PNG"))


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

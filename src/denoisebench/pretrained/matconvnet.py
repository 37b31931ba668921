"""Reading MatConvNet SimpleNN networks saved as MATLAB v7.3 (HDF5) files, with h5py.

A v7.3 ``.mat`` file is HDF5: ``net/layers`` is a cell array of object references, each to a struct group with
a ``type`` (char codes) and, for ``conv`` layers, ``weights`` = references to the filter bank and the biases.
HDF5 stores MATLAB's column-major arrays with the axes reversed, so a filter bank (H, W, C_in, C_out) reads as
(C_out, C_in, W, H) (trailing singleton axes are dropped by MATLAB: a last conv with C_out = 1 reads as
(C_in, W, H)). MatConvNet convolutions are correlations, like torch's ``conv2d``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from denoisebench.errors import ConfigError


@dataclass(frozen=True)
class MatLayer:
    """One SimpleNN layer: its type and, for ``conv``, weights (C_out, C_in, H, W) and biases (C_out,)."""

    type: str
    weight: np.ndarray | None = None
    bias: np.ndarray | None = None


def _text(dataset) -> str:
    return "".join(chr(int(c)) for c in np.asarray(dataset).ravel())


def _filters(raw: np.ndarray, c_in: int | None) -> np.ndarray:
    """HDF5 (C_out, C_in, W, H) -> torch (C_out, C_in, H, W); restores a dropped trailing C_out = 1."""
    if raw.ndim == 3:
        raw = raw[None]
    if raw.ndim != 4:
        raise ValueError(f"filter bank of shape {raw.shape}")
    if c_in is not None and raw.shape[1] != c_in:
        raise ValueError(f"filter bank {raw.shape} does not take the previous layer's {c_in} channels")
    return np.ascontiguousarray(raw.transpose(0, 1, 3, 2), dtype=np.float32)


def read_simplenn(path: str | Path) -> list[MatLayer]:
    """The layers of a MatConvNet SimpleNN ``net`` stored in a v7.3 ``.mat`` file.

    Raises:
        ConfigError: h5py missing, not an HDF5 file, or no ``net.layers`` in it (names the file).
    """
    try:
        import h5py
    except ImportError:
        raise ConfigError(f"{path} is a MATLAB v7.3 file; install h5py (pip install h5py) to read it") from None
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: weights file not found")
    try:
        handle = h5py.File(path, "r")
    except OSError as exc:
        raise ConfigError(f"{path} is not a MATLAB v7.3 (HDF5) file: {exc}") from None
    with handle:
        if "net" not in handle or "layers" not in handle["net"]:
            raise ConfigError(f"{path}: no MatConvNet net.layers in this file (keys: {sorted(handle)})")
        layers: list[MatLayer] = []
        c_in: int | None = None
        for ref in np.asarray(handle["net"]["layers"]).ravel():
            group = handle[ref]
            kind = _text(group["type"])
            if kind != "conv":
                layers.append(MatLayer(kind))
                continue
            w_ref, b_ref = np.asarray(group["weights"]).ravel()[:2]
            try:
                weight = _filters(np.asarray(handle[w_ref]), c_in)
            except ValueError as exc:
                raise ConfigError(f"{path}: layer {len(layers)}: {exc}") from None
            bias = np.asarray(handle[b_ref], dtype=np.float32).ravel()
            layers.append(MatLayer(kind, weight, bias))
            c_in = weight.shape[0]
        return layers

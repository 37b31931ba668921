"""Random training patches from a list of clean images, assembled in one vectorised gather.

Every image is copied once into a flat float32 buffer. A batch is drawn by choosing, per patch, an image
(uniformly), a top-left corner (uniformly among valid positions) and one of the 8 dihedral transforms (flips and
90-degree rotations); the source index of every output element is computed with broadcasting and read with a
single ``np.take``, so images of different sizes cost nothing extra and no per-patch Python loop runs.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from denoisebench.errors import ConfigError

DIHEDRAL_MODES = 8


def dihedral(patch: np.ndarray, mode: int) -> np.ndarray:
    """Reference (slow) form of transform ``mode`` on an (H, W, ...) array, as applied by :class:`PatchSampler`.

    Bit 0 of ``mode`` flips rows, bit 1 flips columns, then bit 2 transposes.
    """
    out = patch[::-1] if mode & 1 else patch
    if mode & 2:
        out = out[:, ::-1]
    return np.swapaxes(out, 0, 1) if mode & 4 else out


class PatchSampler:
    """Draws (N, C, P, P) float32 batches of random, augmented patches.

    Args:
        images: clean float32 (H, W, C) images, all with the same C.
        patch_size: side P of the square patches.
        augment: apply a random dihedral transform (8 modes) to each patch.

    Raises:
        ConfigError: no images, mixed channel counts, or an image smaller than the patch (named by index and size).
    """

    def __init__(self, images: Sequence[np.ndarray], patch_size: int, augment: bool = True) -> None:
        if len(images) == 0:
            raise ConfigError("patch sampler: the training set is empty; give at least one clean image")
        if patch_size < 1:
            raise ConfigError(f"patch sampler: patch_size={patch_size} must be positive")
        shapes = [np.shape(img) for img in images]
        for i, shape in enumerate(shapes):
            if len(shape) != 3:
                raise ConfigError(f"patch sampler: training image {i} has shape {shape}; expected (H, W, C)")
            if shape[0] < patch_size or shape[1] < patch_size:
                raise ConfigError(
                    f"patch sampler: training image {i} is {shape[0]}x{shape[1]}, smaller than patch_size="
                    f"{patch_size}; lower patch_size or drop/upscale that image"
                )
        channels = {shape[2] for shape in shapes}
        if len(channels) != 1:
            raise ConfigError(f"patch sampler: training images mix channel counts {sorted(channels)}; use one")
        self.patch_size = patch_size
        self.augment = augment
        self.channels = channels.pop()
        self.heights = np.array([s[0] for s in shapes], dtype=np.int64)
        self.widths = np.array([s[1] for s in shapes], dtype=np.int64)
        sizes = self.heights * self.widths * self.channels
        self.offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
        self.buffer = np.concatenate([np.asarray(img, dtype=np.float32).ravel() for img in images])
        grid = np.arange(patch_size, dtype=np.int64)
        self._rows = grid[None, None, :, None]  # (1, 1, P, 1)
        self._cols = grid[None, None, None, :]  # (1, 1, 1, P)
        self._chan = np.arange(self.channels, dtype=np.int64)[None, :, None, None]  # (1, C, 1, 1)

    def __len__(self) -> int:
        return len(self.heights)

    def sample(self, batch_size: int, rng: np.random.Generator) -> np.ndarray:
        """A batch of ``batch_size`` patches, (N, C, P, P) float32, drawn with ``rng``."""
        p = self.patch_size
        idx = rng.integers(0, len(self.heights), size=batch_size)
        top = rng.integers(0, self.heights[idx] - p + 1)
        left = rng.integers(0, self.widths[idx] - p + 1)
        mode = rng.integers(0, DIHEDRAL_MODES, size=batch_size) if self.augment else np.zeros(batch_size, np.int64)
        col = lambda a: a[:, None, None, None]  # noqa: E731  (N,) -> (N, 1, 1, 1)
        rows, cols = np.broadcast_arrays(self._rows, self._cols)
        swap = col(mode & 4) > 0
        src_r = np.where(swap, cols, rows)
        src_c = np.where(swap, rows, cols)
        src_r = np.where(col(mode & 1) > 0, p - 1 - src_r, src_r)
        src_c = np.where(col(mode & 2) > 0, p - 1 - src_c, src_c)
        flat = col(self.offsets[idx]) + ((col(top) + src_r) * col(self.widths[idx]) + col(left) + src_c) * self.channels
        return np.take(self.buffer, flat + self._chan)

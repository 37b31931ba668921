"""Task pools: the training pairs of one task read from a paired dataset (GoPro, RESIDE ITS, DID-MDN) or the clean
images of a set whose degradation is synthesised (DIV2K halved for JPEG), as the paper's training data.

A pool is declared per task in the schedule (``task_data`` of ``train.<entry>.<profile>``), e.g.
``{blur: {dataset: gopro_train, resize: [640, 360]}, haze: {dataset: reside_its}, rain: {dataset: did_mdn_train},
jpeg: {dataset: div2k, split: train, scale: 0.5}}``. ``resize`` is (width, height), as DuRN's ``cv2.resize``
(bilinear, half-pixel centres, no antialiasing: ``torch.nn.functional.interpolate`` with ``align_corners=False``);
``scale`` multiplies both sides the same way ("DIV2K halved"). Images are read from disk when drawn (the sets do not
fit in memory), as DuRN's data loaders do; each drawn pair gets one random crop shared by input and reference.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from denoisebench.errors import ConfigError

POOL_KEYS = ("dataset", "split", "limit", "resize", "scale")


class TaskPool:
    """The samples of one task's dataset, resized as declared; :meth:`sample` draws shared random crops."""

    def __init__(self, spec: Mapping[str, Any], root: str | Path) -> None:
        from denoisebench.datasets import list_samples

        unknown = sorted(set(spec) - set(POOL_KEYS))
        if unknown or "dataset" not in spec:
            raise ConfigError(f"durn_mtl: task_data item {dict(spec)!r} needs 'dataset' and may hold "
                              f"{', '.join(POOL_KEYS)} (unknown: {unknown})")
        if spec.get("resize") is not None and spec.get("scale") is not None:
            raise ConfigError(f"durn_mtl: task_data item {dict(spec)!r}: give resize or scale, not both")
        self.spec = dict(spec)
        self.samples = list_samples(spec["dataset"], root, split=spec.get("split"), limit=spec.get("limit"))
        if not self.samples:
            raise ConfigError(f"durn_mtl: task_data dataset {spec['dataset']!r} has no samples under {root}")
        self.paired = self.samples[0].has_noisy

    def __len__(self) -> int:
        return len(self.samples)

    def _resized(self, image: np.ndarray) -> np.ndarray:
        import torch
        import torch.nn.functional as F

        if self.spec.get("resize") is not None:
            w, h = (int(v) for v in self.spec["resize"])
        elif self.spec.get("scale") is not None:
            h, w = (max(1, round(s * float(self.spec["scale"]))) for s in image.shape[:2])
        else:
            return image
        x = torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1)))[None].double()
        out = F.interpolate(x, size=(h, w), mode="bilinear", align_corners=False)
        return out[0].numpy().transpose(1, 2, 0).astype(np.float32)

    def image(self, i: int) -> tuple[np.ndarray | None, np.ndarray]:
        """(input or None for a clean-only set, reference), float32 (H, W, C), resized as declared."""
        sample = self.samples[i]
        noisy = sample.noisy()
        return (None if noisy is None else self._resized(noisy)), self._resized(sample.clean())

    def sample(self, batch: int, patch: int, rng: np.random.Generator) -> tuple[np.ndarray | None, np.ndarray]:
        """``batch`` pairs (input, reference) of random ``patch`` crops, float32 (N, C, P, P); input None when the
        set is clean-only."""
        noisy_out, clean_out = [], []
        for _ in range(batch):
            noisy, clean = self.image(int(rng.integers(len(self.samples))))
            h, w = clean.shape[:2]
            if min(h, w) < patch:
                raise ConfigError(f"durn_mtl: {self.spec['dataset']} image {clean.shape[:2]} is smaller than the "
                                  f"{patch}px crop; lower patch_size")
            top, left = int(rng.integers(h - patch + 1)), int(rng.integers(w - patch + 1))
            crop = (slice(top, top + patch), slice(left, left + patch))
            clean_out.append(clean[crop].transpose(2, 0, 1))
            if noisy is not None:
                noisy_out.append(noisy[crop].transpose(2, 0, 1))
        clean_batch = np.ascontiguousarray(np.stack(clean_out), dtype=np.float32)
        return (np.ascontiguousarray(np.stack(noisy_out), dtype=np.float32) if noisy_out else None), clean_batch

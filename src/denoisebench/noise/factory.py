"""Building noise models from specs, per-image seeds, and a one-call ``add_noise``."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from denoisebench.noise.spec import NoiseSpec, parse_noise_spec

if TYPE_CHECKING:
    from denoisebench.noise.base import NoiseModel


def build_noise(spec: "str | Mapping[str, Any] | NoiseSpec | NoiseModel") -> "NoiseModel":
    """Return the noise model of a spec text, dict or :class:`NoiseSpec` (a model is returned unchanged)."""
    from denoisebench.noise.base import NoiseModel

    if isinstance(spec, NoiseModel):
        return spec
    return parse_noise_spec(spec).build()


def derive_seed(dataset: str, image_id: str, noise_label: str, base_seed: int) -> int:
    """A stable 63-bit seed for one test image.

    ``int(sha256(json.dumps([dataset, image_id, noise_label, base_seed], separators=(",", ":")))
    .hexdigest()[:16], 16) >> 1`` -- independent of the Python process (unlike ``hash()``), platform and
    version, and valid for ``np.random.default_rng`` and ``torch.Generator.manual_seed``.
    """
    for name, value in (("dataset", dataset), ("image_id", image_id), ("noise_label", noise_label)):
        if not isinstance(value, str):
            raise TypeError(f"derive_seed: {name} must be a str, got {type(value).__name__}")
    if isinstance(base_seed, bool) or not isinstance(base_seed, (int, np.integer)):
        raise TypeError(f"derive_seed: base_seed must be an int, got {type(base_seed).__name__}")
    payload = json.dumps([dataset, image_id, noise_label, int(base_seed)], separators=(",", ":"))
    return int(hashlib.sha256(payload.encode("utf-8")).hexdigest()[:16], 16) >> 1


def add_noise(clean: np.ndarray, spec: "str | Mapping[str, Any] | NoiseSpec | NoiseModel", seed: int) -> np.ndarray:
    """Noisy float32 copy of ``clean`` (H, W, C) under ``spec``, with ``rng = np.random.default_rng(seed)``."""
    return build_noise(spec).apply(clean, np.random.default_rng(seed))

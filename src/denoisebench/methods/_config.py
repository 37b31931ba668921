"""Small helpers shared by the method modules: config validation and the noise level in [0, 1] units."""

from __future__ import annotations

from typing import Any

import numpy as np

from denoisebench.errors import ConfigError
from denoisebench.methods.base import DenoiseContext


def merged_config(method: str, defaults: dict[str, Any], config: dict[str, Any]) -> dict[str, Any]:
    """``defaults`` updated with ``config``; unknown keys raise :class:`ConfigError` listing the valid ones."""
    unknown = sorted(set(config) - set(defaults))
    if unknown:
        raise ConfigError(
            f"method {method!r}: unknown config keys {unknown}; valid keys: {', '.join(sorted(defaults))}"
        )
    return {**defaults, **config}


def check_image(method: str, image: np.ndarray) -> np.ndarray:
    """Validate an (H, W, C) image with C in {1, 3}; return it as float32."""
    arr = np.asarray(image)
    if arr.ndim != 3 or arr.shape[2] not in (1, 3):
        raise ValueError(f"method {method!r}: expected an (H, W, C) image with C in {{1, 3}}, got shape {arr.shape}")
    return arr.astype(np.float32, copy=False)


def sigma_01(context: DenoiseContext, noisy: np.ndarray, use_known: bool = True) -> float:
    """Noise std on the [0, 1] scale: ``context.sigma / 255`` when known (and ``use_known``), else estimated.

    The estimate is scikit-image's ``estimate_sigma`` (wavelet MAD), averaged over channels.
    """
    if use_known and context.sigma is not None:
        return float(context.sigma) / 255.0
    from skimage.restoration import estimate_sigma

    if noisy.shape[2] == 1:
        return float(estimate_sigma(noisy[:, :, 0]))
    return float(estimate_sigma(noisy, channel_axis=-1, average_sigmas=True))

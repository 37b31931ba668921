"""Classical denoisers from scikit-image: non-local means, total variation (Chambolle), wavelet (BayesShrink).

Each uses the known noise level ``context.sigma`` (0-255) when given, else scikit-image's ``estimate_sigma``
(``use_known_sigma: false`` forces the estimate). Grey images are processed as 2-D arrays.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from denoisebench.errors import ImageSizeError
from denoisebench.methods._config import check_image, merged_config, sigma_01
from denoisebench.methods.base import METHODS, DenoiseContext, Method


def _per_layout(image: np.ndarray, fn: Callable[[np.ndarray, int | None], np.ndarray]) -> np.ndarray:
    """Call ``fn(array, channel_axis)`` on a 2-D grey or (H, W, 3) colour image; return (H, W, C) float32."""
    if image.shape[2] == 1:
        return np.asarray(fn(image[:, :, 0], None), dtype=np.float32)[:, :, None]
    return np.asarray(fn(image, -1), dtype=np.float32)


class _SkimageMethod(Method):
    """Shared config handling: ``DEFAULTS`` merged with the config, unknown keys rejected."""

    paper = "baseline"
    kind = "classical"
    uses_sigma = True
    needs_training = False
    DEFAULTS: dict[str, Any] = {}

    def __init__(self, config: dict[str, Any] | None = None) -> None:
        super().__init__(config)
        self.params = merged_config(self.name, self.DEFAULTS, self.config)


@METHODS.register("nlm")
class NonLocalMeans(_SkimageMethod):
    """Non-local means (Buades et al. 2005), ``skimage.restoration.denoise_nl_means``.

    Config (defaults follow the scikit-image gallery): ``patch_size`` 5, ``patch_distance`` 6, ``fast_mode``
    true, ``h_factor`` 0.8 (filter strength h = h_factor * sigma; the gallery uses 0.8 in fast mode and 0.6 in
    slow mode), ``use_known_sigma`` true. sigma is also passed to the filter, which then subtracts the noise
    variance from patch distances.
    """

    name = "nlm"
    DEFAULTS = {"patch_size": 5, "patch_distance": 6, "fast_mode": True, "h_factor": 0.8, "use_known_sigma": True}

    def denoise(self, noisy: np.ndarray, context: DenoiseContext) -> np.ndarray:
        from skimage.restoration import denoise_nl_means

        image = check_image(self.name, noisy)
        if min(image.shape[:2]) < 2:  # scikit-image squeezes a 1-pixel side away and fails with an IndexError
            raise ImageSizeError(f"nlm: the image is {image.shape[0]}x{image.shape[1]} pixels; non-local means needs "
                                 "at least 2x2: use a larger image or another method")
        p = self.params
        sigma = sigma_01(context, image, p["use_known_sigma"])
        return _per_layout(
            image,
            lambda arr, axis: denoise_nl_means(
                arr, patch_size=p["patch_size"], patch_distance=p["patch_distance"], h=p["h_factor"] * sigma,
                sigma=sigma, fast_mode=p["fast_mode"], channel_axis=axis,
            ),
        )


@METHODS.register("tv")
class TotalVariation(_SkimageMethod):
    """Total-variation denoising (Chambolle 2004), ``skimage.restoration.denoise_tv_chambolle``.

    Config: ``weight`` (fixed TV weight; null ties it to the noise: weight = weight_factor * sigma on the [0, 1]
    scale), ``weight_factor`` 0.9 (from a sweep at sigma 15/25/50, see docs/methods.md),
    ``max_num_iter`` 200, ``eps`` 2e-4, ``use_known_sigma`` true.
    """

    name = "tv"
    DEFAULTS = {"weight": None, "weight_factor": 0.9, "max_num_iter": 200, "eps": 2e-4, "use_known_sigma": True}

    def denoise(self, noisy: np.ndarray, context: DenoiseContext) -> np.ndarray:
        from skimage.restoration import denoise_tv_chambolle

        image = check_image(self.name, noisy)
        p = self.params
        weight = p["weight"]
        if weight is None:
            weight = p["weight_factor"] * sigma_01(context, image, p["use_known_sigma"])
        return _per_layout(
            image,
            lambda arr, axis: denoise_tv_chambolle(
                arr, weight=weight, eps=p["eps"], max_num_iter=p["max_num_iter"], channel_axis=axis
            ),
        )


@METHODS.register("wavelet")
class Wavelet(_SkimageMethod):
    """Wavelet shrinkage, ``skimage.restoration.denoise_wavelet`` with BayesShrink (Chang et al. 2000).

    Config (defaults follow the scikit-image gallery): ``wavelet`` "db1", ``mode`` "soft", ``method``
    "BayesShrink", ``wavelet_levels`` null (library default), ``convert2ycbcr`` true (colour images are shrunk in
    YCbCr), ``rescale_sigma`` true, ``use_known_sigma`` true (false: the library estimates sigma per channel).
    """

    name = "wavelet"
    DEFAULTS = {"wavelet": "db1", "mode": "soft", "method": "BayesShrink", "wavelet_levels": None,
                "convert2ycbcr": True, "rescale_sigma": True, "use_known_sigma": True}

    def denoise(self, noisy: np.ndarray, context: DenoiseContext) -> np.ndarray:
        from skimage.restoration import denoise_wavelet

        image = check_image(self.name, noisy)
        p = self.params
        sigma = float(context.sigma) / 255.0 if p["use_known_sigma"] and context.sigma is not None else None
        return _per_layout(
            image,
            lambda arr, axis: denoise_wavelet(
                arr, sigma=sigma, wavelet=p["wavelet"], mode=p["mode"], method=p["method"],
                wavelet_levels=p["wavelet_levels"], convert2ycbcr=p["convert2ycbcr"] and axis is not None,
                rescale_sigma=p["rescale_sigma"], channel_axis=axis,
            ),
        )

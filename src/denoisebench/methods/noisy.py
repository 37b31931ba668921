"""The identity "method": returns the noisy input, the floor of every results table."""

from __future__ import annotations

import numpy as np

from denoisebench.methods.base import METHODS, DenoiseContext, Method


@METHODS.register("noisy")
class Noisy(Method):
    """Return the noisy image unchanged (a copy), so tables show the input PSNR/SSIM."""

    name = "noisy"
    paper = "baseline"
    kind = "identity"
    needs_training = False

    def denoise(self, noisy: np.ndarray, context: DenoiseContext) -> np.ndarray:
        return np.array(noisy, dtype=np.float32, copy=True)

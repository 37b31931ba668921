"""BM3D / CBM3D (Dabov et al. 2007) through the PyPI ``bm3d`` package (4.0.x, the authors' Python release).

Colour images use ``bm3d.bm3d_rgb`` (CBM3D: collaborative filtering in a luminance-chrominance space);
grey images use ``bm3d.bm3d``. BM3D is non-blind: it needs the noise level ``context.sigma`` (0-255), which the
package receives on the [0, 1] scale of our images.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from denoisebench.errors import ConfigError, ImageSizeError
from denoisebench.methods._config import check_image, merged_config
from denoisebench.methods.base import METHODS, DenoiseContext, Method

PROFILES = ("np", "refilter", "vn", "vn_old", "high", "deb")
#: The ``bm3d`` package's profile classes (public API), for their block sizes.
PROFILE_CLASSES = {"np": "BM3DProfile", "refilter": "BM3DProfileRefilter", "vn": "BM3DProfileVN",
                   "vn_old": "BM3DProfileVNOld", "high": "BM3DProfileHigh", "deb": "BM3DProfileDeb"}
COLORSPACES = ("opp", "YCbCr")


@METHODS.register("bm3d")
class BM3D(Method):
    """BM3D (grey) / CBM3D (colour).

    Config:
        profile: the package's parameter profile, one of np (its default), refilter, vn, vn_old, high, deb.
            "refilter" fails with bm3d 4.0.3 + bm4d 4.2.x (a padding bug in the package); it is reported as a
            ConfigError rather than hidden.
        colorspace: CBM3D colour transform, "opp" (opponent, the package default) or "YCbCr".
    """

    name = "bm3d"
    paper = "baseline"
    kind = "classical"
    uses_sigma = True
    choices = ("CBM3D/BM3D from the PyPI `bm3d` package (4.x, profile `np`), not the 2007 TUT binary the papers used",)
    needs_training = False
    DEFAULTS: dict[str, Any] = {"profile": "np", "colorspace": "opp"}

    def __init__(self, config: dict[str, Any] | None = None) -> None:
        super().__init__(config)
        self.params = merged_config(self.name, self.DEFAULTS, self.config)
        if self.params["profile"] not in PROFILES:
            raise ConfigError(f"bm3d: profile={self.params['profile']!r} is not one of {', '.join(PROFILES)}")
        if self.params["colorspace"] not in COLORSPACES:
            raise ConfigError(f"bm3d: colorspace={self.params['colorspace']!r} is not one of {', '.join(COLORSPACES)}")

    def denoise(self, noisy: np.ndarray, context: DenoiseContext) -> np.ndarray:
        image = check_image(self.name, noisy)
        if context.sigma is None:
            raise ConfigError(
                "bm3d: BM3D is non-blind and needs the noise level; pass --sigma (0-255), or let the predict stage "
                "estimate it for real noise (predict.sigma_estimator)"
            )
        import bm3d as bm3d_pkg

        sigma = float(context.sigma) / 255.0
        profile = self.params["profile"]
        self._check_size(bm3d_pkg, image)
        try:
            if image.shape[2] == 3:
                out = bm3d_pkg.bm3d_rgb(image, sigma, profile=profile, colorspace=self.params["colorspace"])
            else:
                out = bm3d_pkg.bm3d(image[:, :, 0], sigma, profile=profile)
        except ValueError as exc:
            if profile != "refilter":
                raise
            # bm3d 4.0.3 with bm4d 4.2.x: the refilter stage pads the residual but not the PSD and fails on
            # every input with a broadcast error.
            raise ConfigError(
                f"bm3d: profile='refilter' fails in this bm3d/bm4d release ({exc}); use profile 'np' (default), "
                "'vn' or 'high'"
            ) from exc
        return np.asarray(out, dtype=np.float32).reshape(image.shape)

    def _check_size(self, bm3d_pkg: Any, image: np.ndarray) -> None:
        """BM3D compares square blocks: an image smaller than the profile's block fails inside the package with
        a bare ValueError; say which image size and which block instead."""
        settings = getattr(bm3d_pkg, PROFILE_CLASSES[self.params["profile"]])()
        block = max(int(settings.bs_ht), int(settings.bs_wiener))
        h, w = image.shape[:2]
        if min(h, w) < block:
            raise ImageSizeError(
                f"bm3d: the image is {h}x{w} pixels, smaller than BM3D's {block}x{block} block (profile "
                f"{self.params['profile']!r}); BM3D needs images of at least {block}x{block}: use a larger image "
                "or another method (e.g. nlm, tv, wavelet)"
            )

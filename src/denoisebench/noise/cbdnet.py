"""CBDNet realistic noise, variant (A) of method-specs 2.7 (the MATLAB pipeline used to train CBDNet).

Per image: CRF index ~ U{0..200}; L = f^-1(x); per-channel sigma_s ~ U[0, 0.16], sigma_c ~ U[0, 0.06];
L_n = L + sqrt(var) * n with var = L*sigma_s^2 + sigma_c^2 (``variance="paper"``, default) or
(sigma_s*L)^2 + sigma_c^2 (``variance="code"``, what AddNoiseMosai.m does); Bayer mosaic with a pattern ~ U of
{GBRG, GRBG, BGGR, RGGB, none}; demosaic (Malvar 2004) of the 16-bit-quantised mosaic; y = f(L_n); optional JPEG
with quality ~ U{60..100}.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np

from denoisebench.errors import ConfigError
from denoisebench.noise.base import NOISE_MODELS, NoiseModel, Param, common_params
from denoisebench.noise.crf import CRFTables, load_crf_tables
from denoisebench.noise.jpeg import jpeg_roundtrip

BAYER_PATTERNS = ("GBRG", "GRBG", "BGGR", "RGGB", "none")
DEFAULT_CRF_DIR = "data/CBDNet_CRF"
_U16 = 65536.0


def mosaic_demosaic(rgb: np.ndarray, pattern: str) -> np.ndarray:
    """Bayer-sample an (H, W, 3) image with ``pattern`` and demosaic it like MATLAB ``demosaic`` on uint16.

    The mosaic is quantised as ``uint16(m * 2^16)`` (round, saturate to [0, 65535]); the demosaiced result is
    rounded and saturated to uint16 again (MATLAB returns the input class) and divided by 2^16.
    """
    with warnings.catch_warnings():  # colour-demosaicing 0.2.x imports the deprecated scipy.ndimage.filters
        warnings.simplefilter("ignore", DeprecationWarning)
        import colour_demosaicing  # lazy: pulls in colour-science (~1.5 s import)

    masks = colour_demosaicing.masks_CFA_Bayer(rgb.shape[:2], pattern)
    mosaic = np.zeros(rgb.shape[:2], dtype=np.float64)
    for channel, mask in enumerate(masks):
        mosaic[mask] = rgb[:, :, channel][mask]
    mosaic = np.clip(np.round(mosaic * _U16), 0.0, _U16 - 1.0)
    out = colour_demosaicing.demosaicing_CFA_Bayer_Malvar2004(mosaic, pattern)
    return (np.clip(np.round(out), 0.0, _U16 - 1.0) / _U16).astype(np.float32)


@NOISE_MODELS.register("cbdnet")
class CBDNetNoise(NoiseModel):
    """The CBDNet camera-pipeline noise (variant A); RGB input only; numpy only (no batched torch version).

    Args:
        variance: ``"paper"`` (L*sigma_s^2 + sigma_c^2, default) or ``"code"`` ((sigma_s*L)^2 + sigma_c^2).
        sigma_s_range: per-channel sigma_s ~ U[lo, hi] (default [0, 0.16]).
        sigma_c_range: per-channel sigma_c ~ U[lo, hi] (default [0, 0.06]).
        pattern: ``"random"`` (default: uniform over GBRG, GRBG, BGGR, RGGB, none) or one fixed pattern.
        jpeg: JPEG-compress the result with quality ~ U{jpeg_quality_range} (default False).
        jpeg_quality_range: default [60, 100].
        crf_dir: folder with ``201_CRF_data.mat`` and ``dorfCurvesInv.mat`` (default ``data/CBDNet_CRF``,
            relative to the working directory); read on first use.
        clip: default True. quantize: default False (True when ``jpeg`` is on makes no difference).

    Random draws, in order: CRF index, pattern (when random), sigma_s (3), sigma_c (3), the noise, JPEG quality.
    """

    name = "cbdnet"
    PARAMS = (
        Param("variance", "str", "paper", choices=("paper", "code"), key=True),
        Param("sigma_s_range", "range", (0.0, 0.16), low=0.0, high=1.0, label="sigmas"),
        Param("sigma_c_range", "range", (0.0, 0.06), low=0.0, high=1.0, label="sigmac"),
        Param("pattern", "str", "random", choices=("random", *BAYER_PATTERNS)),
        Param("jpeg", "bool", False),
        Param("jpeg_quality_range", "int_range", (60, 100), low=1, high=100, label="q"),
        Param("crf_dir", "path", DEFAULT_CRF_DIR, label=""),
        *common_params(clip=True, quantize=False),
    )

    def _resolve(self, params: dict[str, Any], given: frozenset[str]) -> dict[str, Any]:
        if params["crf_dir"] is None:
            params["crf_dir"] = DEFAULT_CRF_DIR
        return params

    @property
    def tables(self) -> CRFTables:
        """The CRF tables from ``crf_dir`` (DatasetError naming the path and the fetch command when missing)."""
        return load_crf_tables(Path(self._p["crf_dir"]))

    def _noise(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        if x.shape[2] != 3:
            raise ConfigError(f"noise model 'cbdnet' needs an RGB (H, W, 3) image, got shape {x.shape}")
        tables = self.tables
        index = int(rng.integers(tables.n_curves))
        pattern = self._p["pattern"]
        if pattern == "random":
            pattern = BAYER_PATTERNS[int(rng.integers(len(BAYER_PATTERNS)))]
        sigma_s = rng.uniform(*self._p["sigma_s_range"], size=3).astype(np.float32)
        sigma_c = rng.uniform(*self._p["sigma_c_range"], size=3).astype(np.float32)
        irradiance = tables.inverse(x, index)
        if self._p["variance"] == "paper":
            var = irradiance * sigma_s**2 + sigma_c**2
        else:
            var = (irradiance * sigma_s) ** 2 + sigma_c**2
        noisy = irradiance + np.sqrt(var) * rng.standard_normal(x.shape, dtype=np.float32)
        if pattern != "none":
            noisy = mosaic_demosaic(noisy, pattern)
        y = tables.forward(noisy, index)
        if self._p["jpeg"]:
            lo, hi = self._p["jpeg_quality_range"]
            y = jpeg_roundtrip(y, int(rng.integers(lo, hi + 1)))
        return y

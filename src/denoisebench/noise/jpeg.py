"""JPEG compression artefacts (method-specs 2.8): PIL encoder, default 4:2:0 chroma subsampling."""

from __future__ import annotations

import io
from typing import Any

import numpy as np

from denoisebench.errors import ConfigError
from denoisebench.noise.base import NOISE_MODELS, NoiseModel, Param, common_params

SUBSAMPLING = ("4:2:0", "4:2:2", "4:4:4")


def jpeg_roundtrip(x: np.ndarray, quality: int, subsampling: str = "4:2:0") -> np.ndarray:
    """Encode an (H, W, C) float image with PIL at ``quality`` and decode it; float32 on the 8-bit grid.

    The input is clipped to [0, 1] and rounded to uint8 first (the encoder only takes 8-bit data).
    """
    from PIL import Image

    u8 = np.round(np.clip(x, 0.0, 1.0) * 255.0).astype(np.uint8)
    grey = u8.shape[2] == 1
    img = Image.fromarray(u8[:, :, 0] if grey else u8)
    buf = io.BytesIO()
    options: dict[str, Any] = {"quality": int(quality)}
    if not grey:
        options["subsampling"] = subsampling
    img.save(buf, format="JPEG", **options)
    buf.seek(0)
    with Image.open(buf) as decoded:
        out = np.asarray(decoded.convert("L" if grey else "RGB"))
    if grey:
        out = out[:, :, None]
    return out.astype(np.float32) / np.float32(255.0)


@NOISE_MODELS.register("jpeg")
class JPEG(NoiseModel):
    """JPEG compression at a fixed quality (no randomness; ``rng`` is accepted and unused).

    Args:
        quality: PIL quality 1-100 (default 10, the seed-002 LIVE1 test setting).
        subsampling: chroma subsampling for colour images, "4:2:0" (PIL default), "4:2:2" or "4:4:4".
        clip, quantize: always True (JPEG input and output are 8-bit); False is rejected.
    """

    name = "jpeg"
    PARAMS = (
        Param("quality", "int", 10, low=1, high=100, key=True),
        Param("subsampling", "str", "4:2:0", choices=SUBSAMPLING, label="sub"),
        *common_params(clip=True, quantize=True),
    )

    def _resolve(self, params: dict[str, Any], given: frozenset[str]) -> dict[str, Any]:
        for key in ("clip", "quantize"):
            if not params[key]:
                raise ConfigError(
                    f"noise model 'jpeg': parameter {key!r} = False is invalid; JPEG input and output are always "
                    f"clipped and 8-bit quantised (leave {key!r} at true)"
                )
        return params

    def _noise(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        return jpeg_roundtrip(x, self._p["quality"], self._p["subsampling"])

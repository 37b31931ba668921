"""Noise and degradation models (method-specs section 2), their specs, labels and per-image seeds.

Usage::

    from denoisebench.noise import add_noise, build_noise, derive_seed, parse_noise_spec

    spec = parse_noise_spec("awgn:sigma=25")           # spec.label == "awgn_sigma25"
    seed = derive_seed("kodak24", "kodim01", spec.label, 0)
    noisy = add_noise(clean, spec, seed)                # float32 (H, W, C)

See docs/noise.md for every model, its parameters and defaults.
"""

from __future__ import annotations

# Importing the model modules registers them in NOISE_MODELS.
from denoisebench.noise import cbdnet, gaussian, jpeg, poisson  # noqa: F401
from denoisebench.noise.base import NOISE_MODELS, NoiseModel, Param
from denoisebench.noise.cbdnet import BAYER_PATTERNS, CBDNetNoise
from denoisebench.noise.crf import CRFTables, load_crf_tables, nearest_lookup
from denoisebench.noise.factory import add_noise, build_noise, derive_seed
from denoisebench.noise.gaussian import AWGN, HeteroGaussian
from denoisebench.noise.jpeg import JPEG, jpeg_roundtrip
from denoisebench.noise.poisson import Poisson, PoissonGaussian
from denoisebench.noise.spec import NoiseSpec, parse_noise_spec

__all__ = [
    "AWGN",
    "BAYER_PATTERNS",
    "JPEG",
    "NOISE_MODELS",
    "CBDNetNoise",
    "CRFTables",
    "HeteroGaussian",
    "NoiseModel",
    "NoiseSpec",
    "Param",
    "Poisson",
    "PoissonGaussian",
    "add_noise",
    "build_noise",
    "derive_seed",
    "jpeg_roundtrip",
    "load_crf_tables",
    "nearest_lookup",
    "parse_noise_spec",
]

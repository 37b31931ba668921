"""PSNR and SSIM under explicit, named evaluation protocols (the written contract is ``docs/metrics.md``).

Inputs: ``reference`` is uint8 (exact 8-bit ground truth) or float in [0, 1]; ``restored`` is float (any range,
clipped here) or uint8 (already quantised, e.g. a saved PNG). Arrays are (H, W) or (H, W, C). All arithmetic is
float64 on the 0-255 scale; PSNR uses MAX = 255 and is computed per image (callers average per-image values).

A :class:`Protocol` fixes the four conventions that move published numbers by tenths of a dB: colour space,
quantisation of the restored output, border crop and the SSIM definition. ``PROTOCOLS`` holds the named ones.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any

import numpy as np

from denoisebench.errors import ConfigError, ImageSizeError
from denoisebench.registry import Registry, load_paper_registrations

PEAK = 255.0
_K1, _K2 = 0.01, 0.03
_GAUSS_SIZE, _GAUSS_SIGMA = 11, 1.5


# ----------------------------------------------------------------------------------------------------------------
# Building blocks, keyed by the protocol's option values (dict dispatch, no if/elif chains).


def _quant_round(x: np.ndarray) -> np.ndarray:
    return np.rint(x)


def _quant_trunc(x: np.ndarray) -> np.ndarray:
    return np.floor(x)  # x >= 0 after clipping, so floor == astype(uint8) truncation


def _quant_float(x: np.ndarray) -> np.ndarray:
    return x


#: restored float output on the 0-255 scale, already clipped to [0, 255] -> comparable values.
QUANTISERS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "round": _quant_round,
    "trunc": _quant_trunc,
    "float": _quant_float,
    "float_unclipped": _quant_float,
}
#: Quantisers that score the restored output as it is, out-of-range values included (a float reference is clipped).
UNCLIPPED = frozenset({"float_unclipped"})


def _y_matlab(rgb: np.ndarray, integer: bool) -> np.ndarray:
    """MATLAB ``rgb2ycbcr`` luma, studio swing [16, 235]; uint8 input gives rounded uint8 output in MATLAB."""
    y = 16.0 + (65.481 * rgb[..., 0] + 128.553 * rgb[..., 1] + 24.966 * rgb[..., 2]) / 255.0
    return np.floor(y + 0.5) if integer else y  # MATLAB rounds half away from zero; y > 0


def _y_opencv(rgb: np.ndarray, integer: bool) -> np.ndarray:
    """OpenCV ``COLOR_RGB2YCrCb`` luma, full range; on uint8 it uses 14-bit fixed point with rounding."""
    if integer:
        r, g, b = (rgb[..., i].astype(np.int64) for i in range(3))
        return ((4899 * r + 9617 * g + 1868 * b + 8192) >> 14).astype(np.float64)
    return 0.299 * rgb[..., 0] + 0.587 * rgb[..., 1] + 0.114 * rgb[..., 2]


def _space_rgb(img: np.ndarray, integer: bool) -> np.ndarray:
    return img


def _luma(convert: Callable[[np.ndarray, bool], np.ndarray]) -> Callable[[np.ndarray, bool], np.ndarray]:
    def space(img: np.ndarray, integer: bool) -> np.ndarray:
        if img.shape[2] == 1:  # grey images stay grey (KAIR/MATLAB only convert 3-channel input)
            return img
        if img.shape[2] != 3:
            raise ValueError(f"a Y-channel protocol needs a 1- or 3-channel image, got shape {img.shape}")
        return convert(img, integer)[:, :, None]

    return space


#: (H, W, C) 0-255 float64 -> (H, W, C') in the protocol's colour space.
SPACES: dict[str, Callable[[np.ndarray, bool], np.ndarray]] = {
    "rgb": _space_rgb,
    "y_matlab": _luma(_y_matlab),
    "y_opencv": _luma(_y_opencv),
}


def _gaussian_kernel(size: int = _GAUSS_SIZE, sigma: float = _GAUSS_SIGMA) -> np.ndarray:
    """Normalised 1-D Gaussian; its outer product equals MATLAB ``fspecial('gaussian', size, sigma)``."""
    x = np.arange(size, dtype=np.float64) - (size - 1) / 2.0
    k = np.exp(-(x**2) / (2.0 * sigma**2))
    return k / k.sum()


def _filter_valid(stack: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """Separable correlation of (..., H, W) over the last two axes, keeping only the 'valid' region."""
    from scipy.ndimage import correlate1d

    pad = (kernel.size - 1) // 2
    out = correlate1d(stack, kernel, axis=-1, mode="constant")[..., pad:-pad]  # contiguous axis first: fastest
    return correlate1d(out, kernel, axis=-2, mode="constant")[..., pad:-pad, :]


def _ssim_wang(a: np.ndarray, b: np.ndarray) -> float:
    """Wang et al. 2004 SSIM (MATLAB ``ssim_index`` / KAIR ``calculate_ssim``), per channel then averaged."""
    c1, c2 = (_K1 * PEAK) ** 2, (_K2 * PEAK) ** 2
    a, b = np.moveaxis(a, -1, 0), np.moveaxis(b, -1, 0)  # (C, H, W): filtering along contiguous rows is faster
    stack = np.stack([a, b, a * a, b * b, a * b])
    mu_a, mu_b, e_aa, e_bb, e_ab = _filter_valid(stack, _gaussian_kernel())
    mu_ab = mu_a * mu_b
    mu_aa = mu_a * mu_a
    mu_bb = mu_b * mu_b
    num = (2.0 * mu_ab + c1) * (2.0 * (e_ab - mu_ab) + c2)
    den = (mu_aa + mu_bb + c1) * ((e_aa - mu_aa) + (e_bb - mu_bb) + c2)
    per_channel = (num / den).mean(axis=(1, 2))
    return float(per_channel.mean())


def _ssim_skimage_default(a: np.ndarray, b: np.ndarray) -> float:
    """``skimage.metrics.structural_similarity`` defaults: 7x7 uniform window, sample covariance."""
    from skimage.metrics import structural_similarity

    if a.shape[2] == 1:
        return float(structural_similarity(a[:, :, 0], b[:, :, 0], data_range=PEAK))
    return float(structural_similarity(a, b, data_range=PEAK, channel_axis=-1))


#: SSIM variant -> (function of two (H, W, C) 0-255 float64 arrays, smallest H and W it accepts).
SSIM_VARIANTS: dict[str, tuple[Callable[[np.ndarray, np.ndarray], float], int]] = {
    "wang": (_ssim_wang, _GAUSS_SIZE),
    "skimage_default": (_ssim_skimage_default, 7),
}

_DESCRIBE: dict[str, dict[Any, str]] = {
    "space": {"rgb": "RGB", "y_matlab": "Y (MATLAB rgb2ycbcr, studio swing)", "y_opencv": "Y (OpenCV, full range)"},
    "quant": {
        "round": "output clipped and rounded to uint8",
        "trunc": "output clipped and truncated to uint8",
        "float": "output clipped to [0,1], not quantised",
        "float_unclipped": "output neither clipped nor quantised",
    },
    "ssim": {
        "wang": "SSIM Wang et al. (Gaussian 11x11, sigma 1.5, per channel)",
        "skimage_default": "SSIM skimage defaults (uniform 7x7, sample covariance)",
    },
}


# ----------------------------------------------------------------------------------------------------------------
# Protocols


@dataclass(frozen=True)
class Protocol:
    """How a restored image is compared with its reference.

    Attributes:
        space: "rgb" (all channels as given; grey stays grey), "y_matlab" or "y_opencv" (luma of RGB input).
        quant: how the restored float output becomes comparable: clip to [0, 1], then "round" or "trunc" to
            uint8 levels, or "float" (clipped, not quantised); "float_unclipped" scores the output as it is.
        border: pixels cropped from each side before both metrics.
        ssim: "wang" (Gaussian 11x11, sigma 1.5, valid region, per channel) or "skimage_default".
    """

    space: str = "rgb"
    quant: str = "round"
    border: int = 0
    ssim: str = "wang"

    def __post_init__(self) -> None:
        for name, table in (("space", SPACES), ("quant", QUANTISERS), ("ssim", SSIM_VARIANTS)):
            value = getattr(self, name)
            if not isinstance(value, str) or value not in table:
                raise ConfigError(f"metric protocol {name}={value!r} is invalid; valid values: {', '.join(table)}")
        if isinstance(self.border, bool) or not isinstance(self.border, (int, np.integer)) or self.border < 0:
            raise ConfigError(f"metric protocol border={self.border!r} is invalid; use an integer >= 0 (pixels)")
        object.__setattr__(self, "border", int(self.border))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Protocol:
        """Build from a mapping (e.g. a params.yaml section); missing keys take the defaults.

        Raises:
            ConfigError: an unknown key or an invalid value (the message names it and the valid choices).
        """
        if not isinstance(data, Mapping):
            raise ConfigError(f"a metric protocol must be a mapping, got {type(data).__name__}: {data!r}")
        valid = [f.name for f in fields(cls)]
        unknown = sorted(set(data) - set(valid))
        if unknown:
            raise ConfigError(f"unknown metric protocol key(s) {unknown}; valid keys: {', '.join(valid)}")
        return cls(**dict(data))

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (JSON/YAML-ready) that :meth:`from_dict` reads back."""
        return asdict(self)

    def describe(self) -> str:
        """One-line human statement of the protocol, for tables and result files."""
        border = "no border crop" if self.border == 0 else f"{self.border} px border cropped"
        return ", ".join(
            [_DESCRIBE["space"][self.space], _DESCRIBE["quant"][self.quant], border, _DESCRIBE["ssim"][self.ssim]]
        )


DEFAULT_PROTOCOL = Protocol()

class ProtocolRegistry(Registry[Protocol]):
    """Registry of named protocols that also reads like a mapping: ``PROTOCOLS["shave3"]``."""

    def __getitem__(self, name: str) -> Protocol:
        return self.get(name)  # UnknownNameError is a KeyError listing the valid names


#: Named protocols; "default" is the common reference reported for every result.
PROTOCOLS = ProtocolRegistry("metric protocol", loader=load_paper_registrations)
PROTOCOLS.add("default", DEFAULT_PROTOCOL)  # DnCNN/FFDNet/KAIR and N2N/Ne2Ne/B2U lineages
PROTOCOLS.add("shave3", Protocol(border=3))  # seed 004 DeepDenoising computePSNR (CONV_CROP=3)
PROTOCOLS.add("sidd", Protocol(quant="float"))  # MIRNet SIDD sRGB: float; skimage Gaussian SSIM == wang


def get_protocol(name: str) -> Protocol:
    """The named protocol; an unknown name raises ``UnknownNameError`` listing the valid names."""
    return PROTOCOLS.get(name)


def resolve_protocol(spec: Protocol | str | Mapping[str, Any] | None) -> Protocol:
    """Accept a Protocol, a registered name, a mapping of fields, or None (the default)."""
    if spec is None:
        return DEFAULT_PROTOCOL
    if isinstance(spec, Protocol):
        return spec
    if isinstance(spec, str):
        return get_protocol(spec)
    return Protocol.from_dict(spec)


# ----------------------------------------------------------------------------------------------------------------
# Metrics


def _as_hwc(arr: Any, role: str) -> np.ndarray:
    a = np.asarray(arr)
    if a.ndim == 2:
        a = a[:, :, None]
    if a.ndim != 3:
        raise ValueError(f"{role} image must be (H, W) or (H, W, C), got shape {np.shape(arr)}")
    if a.dtype != np.uint8 and not np.issubdtype(a.dtype, np.floating):
        raise ValueError(f"{role} image must be uint8 or float in [0, 1], got dtype {a.dtype}")
    if a.dtype != np.uint8 and not np.isfinite(a).all():
        raise ValueError(f"{role} image contains NaN or inf values; fix the method's output before scoring")
    return a


def _to_scale(img: np.ndarray, quantise: Callable[[np.ndarray], np.ndarray], clip: bool = True) -> np.ndarray:
    if img.dtype == np.uint8:
        return img.astype(np.float64)  # already 8-bit levels
    scaled = img.astype(np.float64) * PEAK
    return quantise(np.clip(scaled, 0.0, PEAK) if clip else scaled)


def prepare_pair(reference: Any, restored: Any, protocol: Protocol = DEFAULT_PROTOCOL) -> tuple[np.ndarray, np.ndarray]:
    """Apply the protocol: quantise, convert the colour space, crop the border.

    A float reference is clipped and rounded to 8-bit levels, except under ``quant="float"`` where it is only
    clipped. A uint8 restored image is taken as already quantised.

    Returns:
        Two float64 (H', W', C') arrays on the 0-255 scale.

    Raises:
        ValueError: shapes differ (both are named), bad dtype, non-finite values, or the border crop leaves
            nothing.
    """
    ref, res = _as_hwc(reference, "reference"), _as_hwc(restored, "restored")
    if ref.shape != res.shape:
        raise ImageSizeError(f"reference shape {np.shape(reference)} != restored shape {np.shape(restored)}; "
                             "score each restored image against the reference of the same size")
    integer = protocol.quant not in ("float", *UNCLIPPED)
    ref = _to_scale(ref, QUANTISERS["round"] if integer else _quant_float)
    res = _to_scale(res, QUANTISERS[protocol.quant], clip=protocol.quant not in UNCLIPPED)
    to_space = SPACES[protocol.space]
    ref, res = to_space(ref, integer), to_space(res, integer)
    b = protocol.border
    if min(ref.shape[:2]) <= 2 * b:
        raise ImageSizeError(f"border={b} crops the whole image of shape {ref.shape[:2]}; use a smaller border")
    if b:
        ref, res = ref[b:-b, b:-b], res[b:-b, b:-b]
    return ref, res


def _psnr_prepared(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a - b) ** 2))
    return math.inf if mse == 0.0 else 10.0 * math.log10(PEAK**2 / mse)


def _ssim_prepared(a: np.ndarray, b: np.ndarray, protocol: Protocol) -> float:
    func, min_size = SSIM_VARIANTS[protocol.ssim]
    if min(a.shape[:2]) < min_size:
        raise ImageSizeError(
            f"image of shape {a.shape[:2]} (after a {protocol.border} px border crop) is too small for SSIM "
            f"{protocol.ssim!r}; it needs at least {min_size}x{min_size} pixels: score larger images"
        )
    return func(a, b)


def psnr(reference: Any, restored: Any, protocol: Protocol = DEFAULT_PROTOCOL) -> float:
    """PSNR in dB with MAX = 255 on the protocol's comparable values; identical images give ``math.inf``."""
    return _psnr_prepared(*prepare_pair(reference, restored, protocol))


def ssim(reference: Any, restored: Any, protocol: Protocol = DEFAULT_PROTOCOL) -> float:
    """SSIM of the protocol's variant (mean over the valid map, averaged over channels)."""
    a, b = prepare_pair(reference, restored, protocol)
    return _ssim_prepared(a, b, protocol)


def evaluate_pair(reference: Any, restored: Any, protocol: Protocol = DEFAULT_PROTOCOL) -> dict[str, float]:
    """Both metrics from one preparation: ``{"psnr": dB, "ssim": value}``."""
    a, b = prepare_pair(reference, restored, protocol)
    return {"psnr": _psnr_prepared(a, b), "ssim": _ssim_prepared(a, b, protocol)}

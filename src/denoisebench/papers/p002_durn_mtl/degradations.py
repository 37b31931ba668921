"""Restoration degradations beside the noise models (method-specs 2.9): uniform motion blur, haze from the
atmospheric model with a synthetic smooth depth, and rain streaks. JPEG is :mod:`denoisebench.noise.jpeg`.

They are seed 002's offline stand-ins for GoPro, RESIDE and DID-MDN, but generic: any cell or training loop can
name them (``"motion_blur"``, ``"haze:beta=1.2"``, ``"rain:layers=2"``). Every random number comes from the
``rng`` given to :meth:`~denoisebench.noise.NoiseModel.apply`, in a fixed order, so a seed gives the same bytes.
Outputs are clipped and 8-bit quantised by default (the real datasets are 8-bit images).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from denoisebench.noise.base import NOISE_MODELS, NoiseModel, Param, common_params, exclusive, uniform_or_fixed


def line_kernel(length: float, angle_deg: float, supersample: int = 8) -> np.ndarray:
    """Antialiased line of ``length`` px at ``angle_deg`` (0 = horizontal, counter-clockwise), summing to 1.

    Points are spread evenly along the segment (``supersample`` per pixel) and splatted bilinearly on an odd
    square grid just large enough to hold it.
    """
    length = max(float(length), 1.0)
    size = int(np.ceil(length)) // 2 * 2 + 3
    centre = (size - 1) / 2.0
    n = max(int(np.ceil(length * supersample)), 2)
    t = np.linspace(-(length - 1) / 2.0, (length - 1) / 2.0, n)
    theta = np.deg2rad(angle_deg)
    xs, ys = centre + t * np.cos(theta), centre - t * np.sin(theta)
    x0, y0 = np.floor(xs).astype(int), np.floor(ys).astype(int)
    fx, fy = xs - x0, ys - y0
    kernel = np.zeros((size, size), dtype=np.float64)
    for dx, dy, w in ((0, 0, (1 - fx) * (1 - fy)), (1, 0, fx * (1 - fy)), (0, 1, (1 - fx) * fy), (1, 1, fx * fy)):
        np.add.at(kernel, (y0 + dy, x0 + dx), w)
    return kernel / kernel.sum()


def convolve_reflect(x: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """2-D convolution of each channel of an (H, W, C) image with reflect padding; same size, float64."""
    from scipy.signal import fftconvolve

    ph, pw = kernel.shape[0] // 2, kernel.shape[1] // 2
    mode = "reflect" if min(x.shape[:2]) > max(ph, pw) else "symmetric"
    padded = np.pad(x.astype(np.float64), ((ph, ph), (pw, pw), (0, 0)), mode=mode)
    return fftconvolve(padded, kernel[:, :, None], mode="valid", axes=(0, 1))


@NOISE_MODELS.register("motion_blur")
class MotionBlur(NoiseModel):
    """Uniform linear motion blur, B = K * I + n (eq. 1 of seed 002 with one global kernel).

    Args:
        length / length_range: kernel length in px, fixed or U[lo, hi] per image (default U[5, 25]).
        angle / angle_range: motion direction in degrees, fixed or U[lo, hi] (default U[0, 180)).
        noise_sigma: AWGN added after blurring, 0-255 units (default 1).
        clip, quantize: default true.
    """

    name = "motion_blur"
    PARAMS = (
        Param("length", "float", None, low=1.0, high=101.0, key=True, doc="kernel length (px)"),
        Param("length_range", "range", (5.0, 25.0), low=1.0, high=101.0, label="length",
              doc="kernel length ~ U[lo, hi] (px)"),
        Param("angle", "float", None, low=-360.0, high=360.0, key=True, doc="direction (degrees)"),
        Param("angle_range", "range", (0.0, 180.0), low=-360.0, high=360.0, label="", doc="direction ~ U[lo, hi]"),
        Param("noise_sigma", "float", 1.0, low=0.0, high=255.0, label="n", doc="AWGN after blurring, 0-255"),
        *common_params(clip=True, quantize=True),
    )

    def _resolve(self, params: dict[str, Any], given: frozenset[str]) -> dict[str, Any]:
        exclusive(params, given, self.name, "length", "length_range")
        exclusive(params, given, self.name, "angle", "angle_range")
        return params

    def kernel(self, rng: np.random.Generator) -> np.ndarray:
        """The blur kernel of one image (draws length, then angle)."""
        length = uniform_or_fixed(rng, self._p["length"], self._p["length_range"])
        angle = uniform_or_fixed(rng, self._p["angle"], self._p["angle_range"])
        return line_kernel(length, angle)

    def _noise(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        blurred = convolve_reflect(x, self.kernel(rng))
        sigma = self._p["noise_sigma"] / 255.0
        return (blurred + sigma * rng.standard_normal(x.shape)).astype(np.float32)


def smooth_depth(shape: tuple[int, int], rng: np.random.Generator, ramp_weight: float = 0.7) -> np.ndarray:
    """Synthetic depth in [0.1, 1]: a vertical ramp (far at the top) plus Gaussian-filtered white noise (sigma =
    H/8), mixed ``ramp_weight`` : 1 - ``ramp_weight`` after scaling the noise to [0, 1], then normalised."""
    from scipy.ndimage import gaussian_filter

    h, w = shape
    ramp = np.linspace(1.0, 0.0, h)[:, None] * np.ones((1, w))
    noise = gaussian_filter(rng.standard_normal((h, w)), sigma=max(h / 8.0, 1.0), mode="reflect")
    span = noise.max() - noise.min()
    noise = (noise - noise.min()) / span if span > 0 else np.zeros_like(noise)
    depth = ramp_weight * ramp + (1.0 - ramp_weight) * noise
    span = depth.max() - depth.min()
    depth = (depth - depth.min()) / span if span > 0 else np.ones_like(depth)
    return 0.1 + 0.9 * depth


@NOISE_MODELS.register("haze")
class Haze(NoiseModel):
    """Atmospheric scattering, H = I t + A (1 - t), t = exp(-beta d) (eq. 2), on a synthetic smooth depth d.

    Args:
        airlight / airlight_range: global grey atmospheric light A, fixed or U[lo, hi] (default U[0.7, 1.0]).
        beta / beta_range: scattering coefficient, fixed or U[lo, hi] (default U[0.6, 1.8]).
        ramp_weight: share of the vertical ramp in the depth (default 0.7; the rest is smooth noise).
        clip, quantize: default true.
    """

    name = "haze"
    PARAMS = (
        Param("airlight", "float", None, low=0.0, high=1.0, key=True, label="A", doc="atmospheric light"),
        Param("airlight_range", "range", (0.7, 1.0), low=0.0, high=1.0, label="A", doc="A ~ U[lo, hi]"),
        Param("beta", "float", None, low=0.0, high=10.0, key=True, doc="scattering coefficient"),
        Param("beta_range", "range", (0.6, 1.8), low=0.0, high=10.0, label="beta", doc="beta ~ U[lo, hi]"),
        Param("ramp_weight", "float", 0.7, low=0.0, high=1.0, label="ramp", doc="vertical-ramp share of depth"),
        *common_params(clip=True, quantize=True),
    )

    def _resolve(self, params: dict[str, Any], given: frozenset[str]) -> dict[str, Any]:
        exclusive(params, given, self.name, "airlight", "airlight_range")
        exclusive(params, given, self.name, "beta", "beta_range")
        return params

    def transmission(self, shape: tuple[int, int], rng: np.random.Generator) -> tuple[np.ndarray, float]:
        """The transmission map t (H, W) and the airlight A of one image (draws A, beta, then the depth)."""
        airlight = float(uniform_or_fixed(rng, self._p["airlight"], self._p["airlight_range"]))
        beta = float(uniform_or_fixed(rng, self._p["beta"], self._p["beta_range"]))
        depth = smooth_depth(shape, rng, self._p["ramp_weight"])
        return np.exp(-beta * depth), airlight

    def _noise(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        t, airlight = self.transmission(x.shape[:2], rng)
        t = t[:, :, None]
        return (x * t + airlight * (1.0 - t)).astype(np.float32)


@NOISE_MODELS.register("rain")
class Rain(NoiseModel):
    """Rain streaks, O = clip(I + sum_i S_i) (eq. 3), each layer S_i: sparse impulses -> slight Gaussian blur ->
    line kernel -> scaled to a peak intensity.

    Args:
        layers / layers_range: number of streak layers, fixed or uniform integer in [lo, hi] (default [1, 3]).
        density_range: impulse density per layer ~ U[lo, hi] (default [0.002, 0.02]).
        length_range: streak length px ~ U[lo, hi] (default [15, 40]).
        angle_range: streak angle from vertical, degrees ~ U[lo, hi] (default [-30, 30]).
        intensity_range: a layer's peak intensity ~ U[lo, hi] (default [0.6, 1.0]).
        blend: "add" (O = I + S) or "screen" (O = 1 - (1 - I)(1 - S)).
        clip, quantize: default true.
    """

    name = "rain"
    PARAMS = (
        Param("layers", "int", None, low=1, high=10, key=True, doc="streak layers"),
        Param("layers_range", "int_range", (1, 3), low=1, high=10, label="layers", doc="layers ~ U{lo..hi}"),
        Param("density_range", "range", (0.002, 0.02), low=0.0, high=1.0, label="density", doc="impulse density"),
        Param("length_range", "range", (15.0, 40.0), low=1.0, high=101.0, label="length", doc="streak length"),
        Param("angle_range", "range", (-30.0, 30.0), low=-90.0, high=90.0, label="angle", doc="from vertical"),
        Param("intensity_range", "range", (0.6, 1.0), low=0.0, high=1.0, label="int", doc="peak intensity"),
        Param("blend", "str", "add", choices=("add", "screen"), doc="compositing"),
        *common_params(clip=True, quantize=True),
    )

    def _resolve(self, params: dict[str, Any], given: frozenset[str]) -> dict[str, Any]:
        exclusive(params, given, self.name, "layers", "layers_range")
        return params

    def streaks(self, shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
        """The summed streak layers (H, W) of one image."""
        from scipy.ndimage import gaussian_filter

        p = self._p
        lo, hi = p["layers_range"] if p["layers"] is None else (p["layers"], p["layers"])
        total = np.zeros(shape, dtype=np.float64)
        for _ in range(int(rng.integers(lo, hi + 1))):
            density, length, angle, peak, blur = (
                rng.uniform(*p["density_range"]), rng.uniform(*p["length_range"]),
                rng.uniform(*p["angle_range"]), rng.uniform(*p["intensity_range"]), rng.uniform(0.5, 1.0))
            impulses = (rng.random(shape) < density) * rng.uniform(0.5, 1.0, size=shape)
            layer = convolve_reflect(gaussian_filter(impulses, blur)[:, :, None], line_kernel(length, 90.0 + angle))
            layer = layer[:, :, 0]
            top = layer.max()
            total += layer * (peak / top) if top > 0 else 0.0
        return total

    def _noise(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        s = self.streaks(x.shape[:2], rng)[:, :, None]
        return BLENDS[self._p["blend"]](x, s).astype(np.float32)


#: Rain compositing: additive (eq. 3) or screen blending.
BLENDS = {
    "add": lambda x, s: x + s,
    "screen": lambda x, s: 1.0 - (1.0 - x) * (1.0 - np.clip(s, 0.0, 1.0)),
}

"""The noise-model base class, its parameter schema and the ``NOISE_MODELS`` registry.

Every noise model is a class registered in :data:`NOISE_MODELS` under its spec name. It declares its keyword
parameters as a tuple of :class:`Param` (type, default, valid range), so that specs, CLI strings and manifests
are validated in one place and every error names the model, the parameter, the value and what is valid.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from denoisebench.errors import ConfigError
from denoisebench.registry import Registry, load_paper_registrations
from denoisebench.validation import NumberRange

if TYPE_CHECKING:  # torch is imported lazily: numpy-only users never pay for it.
    import torch

NOISE_MODELS: Registry[type["NoiseModel"]] = Registry("noise model", loader=load_paper_registrations)

_TRUE = {"true", "yes", "on", "1"}
_FALSE = {"false", "no", "off", "0"}
_KINDS = ("float", "int", "bool", "str", "range", "int_range", "path")


@dataclass(frozen=True)
class Param:
    """One keyword parameter of a noise model.

    Args:
        name: keyword name.
        kind: one of float, int, bool, str, range (two floats ``[lo, hi]``), int_range, path.
        default: value used when the parameter is not given (``None``: unset/optional).
        low: smallest valid number (for ranges: of each end).
        high: largest valid number.
        choices: valid values of a ``str`` parameter.
        label: token used in the spec label; ``None``: the name without underscores; ``""``: never labelled.
        key: always shown in the label (when not ``None``), even at its default value.
        doc: one-line description (used in error messages and docs).
    """

    name: str
    kind: str
    default: Any = None
    low: float | None = None
    high: float | None = None
    choices: tuple[str, ...] | None = None
    label: str | None = None
    key: bool = False
    doc: str = ""

    def __post_init__(self) -> None:
        if self.kind not in _KINDS:
            raise ValueError(f"Param {self.name!r}: unknown kind {self.kind!r}")

    @property
    def token(self) -> str:
        """The label token of this parameter ("" when it never appears in labels)."""
        return self.name.replace("_", "") if self.label is None else self.label

    def describe(self) -> str:
        """Human-readable description of the valid values."""
        if self.kind == "bool":
            return "true or false"
        if self.kind == "str":
            return "one of " + ", ".join(self.choices or ())
        if self.kind == "path":
            return "a folder path"
        lo = "-inf" if self.low is None else _fmt_number(self.low)
        hi = "inf" if self.high is None else _fmt_number(self.high)
        what = {"float": "a number", "int": "an integer", "range": "a range [lo, hi] (lo <= hi) of numbers",
                "int_range": "a range [lo, hi] (lo <= hi) of integers"}[self.kind]
        return f"{what} in [{lo}, {hi}]"

    def coerce(self, model: str, value: Any) -> Any:
        """Convert ``value`` (possibly a string from a spec text) to this parameter's type and validate it.

        Raises:
            ConfigError: naming the model, the parameter, the value and the valid values.
        """
        if value is None:
            return None
        if self.kind not in ("str", "path") and isinstance(value, str) and value.strip().lower() in ("none", "null"):
            return None
        try:
            out = self._convert(value)
        except (TypeError, ValueError):
            out = _INVALID
        if out is _INVALID or not self._in_bounds(out):
            raise ConfigError(
                f"noise model {model!r}: parameter {self.name!r} = {value!r} is invalid; expected {self.describe()}"
            )
        return out

    def _convert(self, value: Any) -> Any:
        if self.kind == "bool":
            if isinstance(value, (bool, np.bool_)):
                return bool(value)
            text = str(value).strip().lower()
            return True if text in _TRUE else False if text in _FALSE else _INVALID
        if self.kind in ("str", "path"):
            return str(value).strip() if isinstance(value, str) or self.kind == "path" else _INVALID
        if self.kind in ("float", "int"):
            return _number(value, integer=self.kind == "int")
        pair = _split_range(value)
        if pair is None:
            return _INVALID
        lo, hi = (_number(v, integer=self.kind == "int_range") for v in pair)
        return _INVALID if lo > hi else (lo, hi)

    def _in_bounds(self, value: Any) -> bool:
        if self.kind == "str":
            return self.choices is None or value in self.choices
        if self.kind in ("bool", "path"):
            return True
        values = value if isinstance(value, tuple) else (value,)
        return all(NumberRange(self.low, self.high).contains(v) for v in values)


class _Invalid:
    pass


_INVALID = _Invalid()


def _number(value: Any, integer: bool) -> float | int:
    if isinstance(value, (bool, np.bool_)):
        raise TypeError("a boolean is not a number")
    number = float(str(value).strip()) if isinstance(value, str) else float(value)
    if integer:
        if not number.is_integer():
            raise ValueError("not an integer")
        return int(number)
    return number


def _split_range(value: Any) -> tuple[Any, Any] | None:
    """``[lo, hi]``, ``(lo, hi)``, ``"lo-hi"`` or ``"[lo,hi]"`` -> ``(lo, hi)``; anything else -> None."""
    if isinstance(value, str):
        text = value.strip().strip("[]()").strip()
        for sep in (",", ":", "-"):
            if sep in text:
                parts = [p.strip() for p in text.split(sep)]
                return (parts[0], parts[1]) if len(parts) == 2 else None
        return None
    if isinstance(value, (list, tuple, np.ndarray)) and len(value) == 2:
        return value[0], value[1]
    return None


def _fmt_number(value: float) -> str:
    """Plain decimal formatting without exponent: 25 -> "25", 0.0001 -> "0.0001"."""
    value = float(value)
    if value.is_integer():
        return str(int(value))
    return np.format_float_positional(value, trim="-")


def format_label_value(param: Param, value: Any) -> str:
    """Format one resolved parameter value for a label (see docs/noise.md, "Labels")."""
    if param.kind in ("range", "int_range"):
        return param.token + f"{_fmt_number(value[0])}-{_fmt_number(value[1])}"
    if param.kind in ("float", "int"):
        return param.token + _fmt_number(value)
    if param.kind == "bool":
        return f"{param.token}-{'true' if value else 'false'}"
    return f"{param.token}-{re.sub(r'[^A-Za-z0-9.]+', '', str(value))}"


def common_params(clip: bool, quantize: bool) -> tuple[Param, Param]:
    """The ``clip`` and ``quantize`` parameters every model has, with the model's defaults."""
    return (
        Param("clip", "bool", clip, doc="clip the noisy image to [0, 1]"),
        Param("quantize", "bool", quantize, doc="round the noisy image to the 8-bit grid, round(255*y)/255"),
    )


class NoiseModel:
    """Base class: parameter resolution, input checks, clipping/quantisation and the label.

    Subclasses set ``name`` and ``PARAMS`` and implement ``_noise`` (numpy) and optionally ``_noise_torch``.
    They may override ``_resolve`` for constraints between parameters.
    """

    name: ClassVar[str] = ""
    PARAMS: ClassVar[tuple[Param, ...]] = ()

    def __init__(self, **kwargs: Any) -> None:
        schema = {p.name: p for p in self.PARAMS}
        unknown = sorted(set(kwargs) - set(schema))
        if unknown:
            raise ConfigError(
                f"noise model {self.name!r}: unknown parameter(s) {', '.join(map(repr, unknown))}; "
                f"valid keys: {', '.join(schema)}"
            )
        given = {k: schema[k].coerce(self.name, v) for k, v in kwargs.items()}
        resolved = {p.name: given.get(p.name, p.default) for p in self.PARAMS}
        self._given = frozenset(given)
        self._p: dict[str, Any] = self._resolve(resolved, self._given)

    # ----- hooks -----
    def _resolve(self, params: dict[str, Any], given: frozenset[str]) -> dict[str, Any]:
        """Apply cross-parameter rules; raise ConfigError on conflicts. Default: unchanged."""
        return params

    def _noise(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        raise NotImplementedError

    def _noise_torch(self, batch: "torch.Tensor", generator: "torch.Generator") -> "torch.Tensor":
        raise NotImplementedError(
            f"noise model {self.name!r} has no batched torch version; apply it per image or patch with "
            f".apply(numpy_image, numpy_rng) instead"
        )

    # ----- public API -----
    @property
    def params(self) -> dict[str, Any]:
        """Resolved parameters (defaults included) plus ``name``; JSON-friendly (ranges as lists)."""
        out: dict[str, Any] = {"name": self.name}
        for key, value in self._p.items():
            out[key] = list(value) if isinstance(value, tuple) else value
        return out

    @property
    def clip(self) -> bool:
        """Whether the noisy output is clipped to [0, 1]."""
        return bool(self._p["clip"])

    @property
    def quantize(self) -> bool:
        """Whether the noisy output is rounded to the 8-bit grid."""
        return bool(self._p["quantize"])

    @property
    def sigma(self) -> float | None:
        """The fixed AWGN level in 0-255 units (``None`` for every other model and for blind ranges)."""
        return None

    @property
    def label(self) -> str:
        """Filesystem-safe label: the name, then the key parameters and every non-default one, in order."""
        parts = [self.name]
        for p in self.PARAMS:
            value = self._p[p.name]
            if not p.token or value is None:
                continue
            if p.key or value != p.default:
                parts.append(format_label_value(p, value))
        return "_".join(parts)

    def apply(self, clean: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Return a noisy float32 copy of ``clean`` (H, W, C), drawing every random number from ``rng``.

        Args:
            clean: float image (H, W, C) in [0, 1] (uint8 images are converted by /255).
            rng: the numpy random generator to draw from (``np.random.default_rng(seed)``).
        """
        if not isinstance(rng, np.random.Generator):
            raise TypeError(
                f"noise model {self.name!r}: rng must be a numpy.random.Generator "
                f"(use np.random.default_rng(seed)), got {type(rng).__name__}"
            )
        x = as_float_image(clean, self.name)
        y = np.asarray(self._noise(x, rng), dtype=np.float32)
        if self.clip:
            y = np.clip(y, 0.0, 1.0)
        if self.quantize:
            y = np.round(y * np.float32(255.0)) / np.float32(255.0)
        return y.astype(np.float32, copy=False)

    def apply_torch(self, batch: "torch.Tensor", generator: "torch.Generator") -> "torch.Tensor":
        """Batched version on a (N, C, H, W) float tensor; per-sample random levels; randomness from ``generator``.

        Raises:
            NotImplementedError: the model has no batched version (use :meth:`apply` per patch).
        """
        import torch

        if not isinstance(batch, torch.Tensor) or batch.ndim != 4 or not batch.is_floating_point():
            shape = tuple(batch.shape) if isinstance(batch, torch.Tensor) else type(batch).__name__
            raise ValueError(f"noise model {self.name!r}: expected a float (N, C, H, W) tensor, got {shape}")
        if not isinstance(generator, torch.Generator):
            raise TypeError(f"noise model {self.name!r}: generator must be a torch.Generator")
        y = self._noise_torch(batch, generator)
        if self.clip:
            y = y.clamp(0.0, 1.0)
        if self.quantize:
            y = torch.round(y * 255.0) / 255.0
        return y.to(batch.dtype)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self._p.items())
        return f"{type(self).__name__}({args})"


def as_float_image(clean: np.ndarray, model: str) -> np.ndarray:
    """Check an (H, W, C) image and return it as float32 (uint8 is scaled by 1/255)."""
    arr = np.asarray(clean)
    if arr.ndim != 3 or arr.shape[2] not in (1, 3):
        raise ValueError(f"noise model {model!r}: expected an (H, W, C) image with C in {{1, 3}}, got {arr.shape}")
    if arr.dtype == np.uint8:
        return arr.astype(np.float32) / np.float32(255.0)
    if not np.issubdtype(arr.dtype, np.floating):
        raise ValueError(f"noise model {model!r}: expected a float32 or uint8 image, got dtype {arr.dtype}")
    return arr.astype(np.float32, copy=False)


def uniform_or_fixed(rng: np.random.Generator, fixed: float | None, span: tuple[float, float] | None,
                     size: int | tuple[int, ...] | None = None) -> Any:
    """``fixed`` when set, else a draw from U[span] (``size`` draws)."""
    if fixed is not None:
        return fixed if size is None else np.full(size, fixed, dtype=np.float64)
    assert span is not None
    return rng.uniform(span[0], span[1], size=size)


def torch_uniform(generator: "torch.Generator", fixed: float | None, span: tuple[float, float] | None,
                  shape: tuple[int, ...], like: "torch.Tensor") -> "torch.Tensor":
    """Tensor of ``shape`` (on ``like``'s device/dtype): ``fixed`` or U[span] draws from ``generator``."""
    import torch

    if fixed is not None:
        return torch.full(shape, float(fixed), dtype=like.dtype, device=like.device)
    assert span is not None
    u = torch.rand(shape, generator=generator, dtype=like.dtype, device=like.device)
    return span[0] + (span[1] - span[0]) * u


def exclusive(params: dict[str, Any], given: frozenset[str], model: str, fixed: str, span: str) -> None:
    """Resolve a ``fixed`` / ``span`` pair: giving both is an error; giving ``fixed`` unsets the default span."""
    if fixed in given and span in given and params[fixed] is not None and params[span] is not None:
        raise ConfigError(f"noise model {model!r}: give {fixed!r} or {span!r}, not both")
    if params[fixed] is not None and span not in given:
        params[span] = None
    if params[span] is not None and fixed not in given:
        params[fixed] = None
    if params[fixed] is None and params[span] is None:
        raise ConfigError(f"noise model {model!r}: one of {fixed!r} or {span!r} is required")

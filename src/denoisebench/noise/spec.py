"""Noise specifications: ``"awgn:sigma=25"`` / ``{"name": "awgn", "sigma": 25}`` -> :class:`NoiseSpec`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from denoisebench.errors import ConfigError
from denoisebench.noise.base import NOISE_MODELS

if TYPE_CHECKING:
    from denoisebench.noise.base import NoiseModel


@dataclass(frozen=True)
class NoiseSpec:
    """A validated noise model name plus the parameters the user set (coerced; ranges as lists).

    Build it with :func:`parse_noise_spec`; defaults are not stored here (see :meth:`build` / ``.params``).
    """

    name: str
    params: dict[str, Any]

    def build(self) -> "NoiseModel":
        """The noise model this spec describes."""
        return NOISE_MODELS.get(self.name)(**self.params)

    @property
    def label(self) -> str:
        """Stable, filesystem-safe label (e.g. ``awgn_sigma25``); the rule is in docs/noise.md."""
        return self.build().label

    @property
    def text(self) -> str:
        """Canonical text form, parseable by :func:`parse_noise_spec` (``awgn:sigma=25``)."""
        if not self.params:
            return self.name
        return self.name + ":" + ",".join(f"{k}={_text_value(v)}" for k, v in self.params.items())

    def to_dict(self) -> dict[str, Any]:
        """``{"name": ..., **params}``, the dict form accepted by :func:`parse_noise_spec`."""
        return {"name": self.name, **self.params}

    def __str__(self) -> str:
        return self.text

    def __hash__(self) -> int:
        return hash(self.text)


def _text_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(_text_value(v) for v in value) + "]"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _split_top_level(text: str) -> list[str]:
    """Split on commas that are not inside brackets: ``"a=1,r=[1,2]"`` -> ``["a=1", "r=[1,2]"]``."""
    parts, depth, current = [], 0, []
    for char in text:
        if char in "[(":
            depth += 1
        elif char in "])":
            depth -= 1
        if char == "," and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return [p.strip() for p in parts if p.strip()]


def _parse_text(text: str) -> tuple[str, dict[str, Any]]:
    name, _, rest = text.strip().partition(":")
    params: dict[str, Any] = {}
    for item in _split_top_level(rest):
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ConfigError(f"noise spec {text!r}: {item!r} is not key=value (example: 'awgn:sigma=25,clip=true')")
        if key in params:
            raise ConfigError(f"noise spec {text!r}: parameter {key!r} is given twice")
        params[key] = value.strip()
    return name.strip().lower(), params


def parse_noise_spec(spec: "str | Mapping[str, Any] | NoiseSpec") -> NoiseSpec:
    """Parse and validate a noise spec.

    Accepted forms: ``"awgn"``, ``"awgn:sigma=25,clip=true"``, ``"awgn:sigma_range=[15,50]"`` (or ``15-50``),
    ``{"name": "awgn", "sigma": 25}``, ``{"name": "awgn", "params": {"sigma": 25}}`` or a :class:`NoiseSpec`.

    Raises:
        UnknownNameError: unknown model name (the message lists the valid names).
        ConfigError: malformed text, unknown parameter or invalid value (naming the parameter, value, valid range).
    """
    if isinstance(spec, NoiseSpec):
        name, raw = spec.name, dict(spec.params)
    elif isinstance(spec, str):
        if not spec.strip():
            raise ConfigError(f"empty noise spec; valid names: {', '.join(NOISE_MODELS.names())}")
        name, raw = _parse_text(spec)
    elif isinstance(spec, Mapping):
        if "name" not in spec:
            valid = ", ".join(NOISE_MODELS.names())
            raise ConfigError(f"noise spec {dict(spec)!r} has no 'name'; valid names: {valid}")
        raw = {k: v for k, v in spec.items() if k not in ("name", "params")}
        nested = spec.get("params") or {}
        if not isinstance(nested, Mapping):
            raise ConfigError(f"noise spec {dict(spec)!r}: 'params' must be a mapping")
        for key, value in nested.items():
            if key in raw:
                raise ConfigError(f"noise spec {dict(spec)!r}: parameter {key!r} is given twice")
            raw[key] = value
        name = str(spec["name"]).strip().lower()
    else:
        raise ConfigError(f"a noise spec must be a string or a mapping, got {type(spec).__name__}")
    cls = NOISE_MODELS.get(name)
    model = cls(**raw)  # validates every parameter and the combinations
    resolved = model.params
    return NoiseSpec(name=name, params={key: resolved[key] for key in raw})

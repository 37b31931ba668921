"""One validator for every numeric option: CLI flags, stage params and method contexts check numbers the same way.

A number is valid when it is finite, inside its declared closed range and, for integer options, integral. The error
names the option, the value given and the allowed range, e.g.
``--sigma=nan is invalid: expected a finite number in [0, 255] (noise level in 0-255 units)``.
"""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass
from typing import Any, Callable

from denoisebench.errors import ConfigError


@dataclass(frozen=True)
class NumberRange:
    """A closed range ``[low, high]`` (None: unbounded on that side) of finite numbers, optionally integers."""

    low: float | None = None
    high: float | None = None
    integer: bool = False
    doc: str = ""

    def describe(self) -> str:
        """``a finite number in [0, 255]`` / ``an integer >= 0``."""
        what = "an integer" if self.integer else "a finite number"
        if self.low is not None and self.high is not None:
            span = f" in [{_fmt(self.low)}, {_fmt(self.high)}]"
        elif self.low is not None:
            span = f" >= {_fmt(self.low)}"
        elif self.high is not None:
            span = f" <= {_fmt(self.high)}"
        else:
            span = ""
        return what + span + (f" ({self.doc})" if self.doc else "")

    def contains(self, value: float) -> bool:
        """True when ``value`` (already a number) is finite, in range and integral if required."""
        return (math.isfinite(value) and (self.low is None or value >= self.low)
                and (self.high is None or value <= self.high) and (not self.integer or float(value).is_integer()))

    def check(self, value: Any, name: str) -> float | int:
        """``value`` (number or numeric text) as float (int for integer ranges), or a ConfigError naming ``name``.

        Booleans are not numbers here (``true`` for a sigma is a mistake, not 1).
        """
        number = _to_number(value)
        if number is None or not self.contains(number):
            raise ConfigError(f"{name}={value!r} is invalid: expected {self.describe()}")
        return int(number) if self.integer else float(number)


def _to_number(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        return float(value.strip()) if isinstance(value, str) else float(value)
    except (TypeError, ValueError, OverflowError):
        return None


def _fmt(number: float) -> str:
    return f"{number:g}"


#: AWGN noise level in 0-255 units (CLI ``--sigma``, :class:`~denoisebench.methods.base.DenoiseContext`, noise specs).
SIGMA = NumberRange(0.0, 255.0, doc="noise level in 0-255 units")
#: Base random seed (CLI ``--seed``, params ``synthesize.seed``).
SEED = NumberRange(0, None, integer=True, doc="random seed")


def check_sigma(value: Any, name: str = "sigma") -> float:
    """A noise level in [0, 255], or a ConfigError naming ``name``."""
    return float(SIGMA.check(value, name))


def arg_type(number_range: NumberRange, flag: str) -> Callable[[str], float | int]:
    """An argparse ``type=`` that validates with ``number_range``; a bad value becomes argparse's usage error
    (exit status 2, ``argument --sigma: 'nan' is invalid: expected ...``)."""

    def parse(text: str) -> float | int:
        try:
            return number_range.check(text, flag)
        except ConfigError:
            raise argparse.ArgumentTypeError(f"{text!r} is invalid: expected {number_range.describe()}") from None

    parse.__name__ = flag.lstrip("-")
    return parse


def reject_unknown_keys(config_cls: type, values: dict[str, Any]) -> None:
    """Raise a ConfigError naming the keys of ``values`` that are not fields of the dataclass ``config_cls``
    (the train configs' check: ``train config: unknown keys [...]; valid keys: ...``)."""
    import dataclasses

    known = {f.name for f in dataclasses.fields(config_cls)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ConfigError(f"train config: unknown keys {unknown}; valid keys: {', '.join(sorted(known))}")

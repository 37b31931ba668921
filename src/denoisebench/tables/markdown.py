"""Markdown and number formatting shared by the report writers."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

MISSING = "—"


def is_number(value: object) -> bool:
    """True for a finite int/float (bools excluded)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def is_infinite(value: object) -> bool:
    """True for +-inf (e.g. the PSNR of an exactly restored image)."""
    return isinstance(value, float) and math.isinf(value)


def fmt(value: object, decimals: int = 2) -> str:
    """A number with ``decimals`` places, ``inf``/``-inf``, or :data:`MISSING`."""
    if is_infinite(value):
        return str(value)
    if not is_number(value):
        return MISSING
    return f"{float(value):.{decimals}f}"  # type: ignore[arg-type]


def fmt_delta(value: object, decimals: int = 2) -> str:
    """A signed difference (``+0.12``, ``-0.35``, ``+0.00``, ``+inf``), or :data:`MISSING`."""
    if is_infinite(value):
        return f"{value:+}"
    if not is_number(value):
        return MISSING
    text = f"{float(value):+.{decimals}f}"  # type: ignore[arg-type]
    return "+" + text[1:] if text.startswith("-") and float(text) == 0 else text


def fmt_seconds(value: object) -> str:
    """Seconds per image with three significant digits."""
    if not is_number(value):
        return MISSING
    return f"{float(value):.3g}"  # type: ignore[arg-type]


def decimals_of(printed: str, minimum: int = 2) -> int:
    """Decimal places of a printed number (``"0.868"`` -> 3), at least ``minimum``."""
    text = str(printed).strip()
    return max(minimum, len(text.split(".", 1)[1]) if "." in text else 0)


def cell(text: object) -> str:
    """Make ``text`` safe inside a markdown table cell."""
    return str(text).replace("|", "\\|").replace("\n", " ")


def table(headers: Sequence[str], rows: Iterable[Sequence[object]], align: Sequence[str] | None = None) -> str:
    """Render a GitHub-flavoured markdown table (``align``: ``"l"``/``"r"`` per column, default left)."""
    align = list(align or ["l"] * len(headers))
    out = ["| " + " | ".join(cell(h) for h in headers) + " |",
           "|" + "|".join(" ---: " if a == "r" else " --- " for a in align) + "|"]
    for row in rows:
        if len(row) != len(headers):
            raise ValueError(f"table row has {len(row)} cells, header has {len(headers)}")
        out.append("| " + " | ".join(cell(c) for c in row) + " |")
    return "\n".join(out) + "\n"


def sigma_label(degradation: str | None) -> str:
    """Short condition label: ``"awgn sigma=25"`` -> ``"σ=25"``, ``"poisson lambda=30"`` -> ``"λ=30"``."""
    if not degradation:
        return ""
    text = str(degradation)
    low = text.lower()
    if low.startswith("awgn sigma="):
        return "σ=" + text.split("=", 1)[1]
    if low.startswith("poisson lambda="):
        return "λ=" + text.split("=", 1)[1]
    return text

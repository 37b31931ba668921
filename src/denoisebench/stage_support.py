"""Small helpers shared by the stage entry points in ``stages/``."""

from __future__ import annotations

import logging
import os
from typing import Any

from denoisebench.config import active_profile, evaluation_plan, method_entries, section, train_settings

LOG = logging.getLogger("denoisebench")


def setup_logging() -> None:
    """Plain INFO logging to stderr, one line per message."""
    logging.basicConfig(level=os.environ.get("DENOISEBENCH_LOGLEVEL", "INFO"), format="%(levelname)s %(message)s")


def resolve_device(name: str | None) -> str:
    """``auto`` -> ``cuda`` when available, else ``cpu``; other names pass through."""
    if name in (None, "auto"):
        import torch

        return "cuda" if torch.cuda.is_available() else "cpu"
    return str(name)


def datasets_needed(params: dict[str, Any]) -> list[str]:
    """Datasets the active profile reads: its test sets, the training sets of learned entries, CRF tables if used."""
    names = [cell.dataset for cell in evaluation_plan(params)]
    profile = active_profile(params)
    for entry, group in method_entries(params).items():
        if group == "learned" and profile in (section(params, "train", entry) or {}):
            names.append(train_settings(params, entry)["dataset"])
    if any("cbdnet" in cell.noise for cell in evaluation_plan(params)):
        names.append("cbdnet_crf")
    return sorted(set(names))

"""Small helpers shared by the stage entry points in ``stages/``."""

from __future__ import annotations

import logging
import os
from typing import Any

from denoisebench.config import (TRAINED_GROUPS, active_profile, evaluation_plan, method_entries, method_entry, section,
                                 train_settings)

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
    """Datasets the active profile reads: its test sets, the training sets of trained entries, and the CBDNet
    CRF tables when a test cell or a trained entry's training noise uses the camera pipeline."""
    cells = evaluation_plan(params)
    names = [cell.dataset for cell in cells]
    profile = active_profile(params)
    uses_camera_pipeline = any("cbdnet" in cell.noise for cell in cells)
    for entry, group in method_entries(params).items():
        if group in TRAINED_GROUPS and profile in (section(params, "train", entry) or {}):
            names.append(train_settings(params, entry)["dataset"])
            train_noise = method_entry(params, entry).config.get("train_noise")
            uses_camera_pipeline |= isinstance(train_noise, dict) and train_noise.get("name") == "cbdnet"
    if uses_camera_pipeline:
        names.append("cbdnet_crf")
    return sorted(set(names))

"""Small helpers shared by the stage entry points in ``stages/``."""

from __future__ import annotations

import argparse
import json
import logging
import os
from typing import Any

from denoisebench.config import (TRAINED_GROUPS, active_profile, evaluation_plan, method_entries, method_entry, section,
                                 train_settings)
from denoisebench.errors import ConfigError

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


def pretrained_needed(params: dict[str, Any]) -> list[str]:
    """Released models (``pretrained`` registry names) that the ``pretrained`` method entries read."""
    names = []
    for entry in method_entries(params):
        spec = method_entry(params, entry)
        if spec.method == "pretrained":
            if not spec.config.get("model"):
                raise ConfigError(f"params.yaml: method entry {entry!r} (method pretrained) needs a 'model' key "
                                  "(see `denoisebench pretrained list`)")
            names.append(str(spec.config["model"]))
    return sorted(set(names))


def apply_profile_defaults(parser: argparse.ArgumentParser, section_name: str, argv: list[str] | None = None) -> None:
    """Set ``parser``'s defaults from ``params.yaml`` ``<section_name>.<active profile>`` (keys are option names
    with ``_`` for ``-``; mappings and lists are passed as JSON text). Flags given on the command line still win,
    so one dvc.yaml command serves every profile. The params file comes from ``--params`` (default params.yaml).
    """
    from denoisebench.config import ConfigError, load_params

    probe = argparse.ArgumentParser(add_help=False)
    probe.add_argument("--params", default="params.yaml")
    known, _ = probe.parse_known_args(argv)
    params = load_params(known.params)
    profile = active_profile(params)
    values = section(params, section_name, profile)
    if not isinstance(values, dict):
        raise ConfigError(f"params.yaml: {section_name}.{profile} must be a mapping of option names to values")
    dests = {action.dest for action in parser._actions}
    unknown = sorted(set(values) - dests)
    if unknown:
        raise ConfigError(f"params.yaml: {section_name}.{profile} has unknown keys {unknown}; "
                          f"options: {', '.join(sorted(dests - {'help'}))}")
    parser.set_defaults(**{key: json.dumps(value) if isinstance(value, (dict, list)) else value
                           for key, value in values.items()})

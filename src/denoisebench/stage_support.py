"""Small helpers shared by the stage entry points in ``stages/``."""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import sys
from typing import Any, Callable, Iterator, NoReturn

from denoisebench.config import (
    TRAINED_GROUPS, active_profile, evaluation_plan, method_entries, method_entry, not_run_reason, section,
)
from denoisebench.errors import ConfigError

LOG = logging.getLogger("denoisebench")


def setup_logging() -> None:
    """Plain INFO logging to stderr, one line per message."""
    logging.basicConfig(level=os.environ.get("DENOISEBENCH_LOGLEVEL", "INFO"), format="%(levelname)s %(message)s")


def run_stage(main: Callable[[], Any]) -> NoReturn:
    """Run a stage's ``main`` and exit: the benchmark's known errors (:class:`DenoiseBenchError`: bad params, missing
    data, unreachable URL, unreadable image, ...) end in one ``error: ...`` line on stderr and exit status 2, with
    no traceback, so a failing ``dvc repro`` shows the message and the fix; any other exception keeps its
    traceback (a bug to report). ``main`` may return an int exit status; anything else counts as success.
    """
    from denoisebench.errors import DenoiseBenchError, format_error

    try:
        result = main()
    except DenoiseBenchError as exc:
        print(format_error(exc), file=sys.stderr)
        raise SystemExit(2) from None
    raise SystemExit(result if isinstance(result, int) and not isinstance(result, bool) else 0)


@contextlib.contextmanager
def params_section(where: str, only_prefix: str = "") -> Iterator[None]:
    """Re-raise a :class:`ConfigError` / unknown-name error raised in the block as a ConfigError that names the
    ``params.yaml`` section it came from (``params.yaml: methods.classical.bm3d: unknown config keys ...``).
    With ``only_prefix``, only messages starting with it are attributed to the section (the rest pass unchanged).
    """
    from denoisebench.errors import ConfigError, UnknownNameError

    try:
        yield
    except (ConfigError, UnknownNameError) as exc:
        if not str(exc).startswith(only_prefix):
            raise
        raise ConfigError(f"params.yaml: {where}: {exc}") from None


def build_entry_method(params: dict[str, Any], entry: Any) -> Any:
    """The method of a params entry (a :class:`~denoisebench.config.MethodEntry`); a bad config or method name
    raises a ConfigError naming the entry's section (``methods.<group>.<entry>``)."""
    from denoisebench.methods import build_method

    with params_section(f"methods.{method_entries(params)[entry.entry]}.{entry.entry}"):
        return build_method(entry.method, entry.config)


def resolve_device(name: str | None) -> str:
    """``auto`` -> ``cuda`` when available, else ``cpu``; other names pass through."""
    if name in (None, "auto"):
        import torch

        return "cuda" if torch.cuda.is_available() else "cpu"
    return str(name)


def training_sets(params: dict[str, Any]) -> list[str]:
    """``data.train_sets.<profile>``: the clean training sets the active profile's trained entries may use (what
    the download stage fetches for training; the schedules in ``train`` are not download params, so changing a
    learning rate does not rerun the download)."""
    profile = active_profile(params)
    sets = (section(params, "data").get("train_sets") or {}).get(profile) or []
    if not isinstance(sets, list) or not all(isinstance(s, str) for s in sets):
        raise ConfigError(f"params.yaml: data.train_sets.{profile} must be a list of dataset names, got {sets!r}")
    return list(sets)


def check_training_set(params: dict[str, Any], entry: str, dataset: str) -> None:
    """Fail with the fix when ``train.<entry>.<profile>.dataset`` is not one of ``data.train_sets.<profile>``."""
    profile = active_profile(params)
    if dataset not in training_sets(params):
        raise ConfigError(f"params.yaml: train.{entry}.{profile}.dataset={dataset!r} is not fetched for training; "
                          f"add it to data.train_sets.{profile} (now {training_sets(params)})")


def datasets_needed(params: dict[str, Any]) -> list[str]:
    """Datasets the active profile reads: its test sets, its training sets (``data.train_sets``), and the CBDNet
    CRF tables when a test cell or a trained entry's training noise uses the camera pipeline."""
    cells = evaluation_plan(params)
    names = [cell.dataset for cell in cells] + training_sets(params)
    uses_camera_pipeline = any("cbdnet" in cell.noise for cell in cells)
    for entry, group in method_entries(params).items():
        if group in TRAINED_GROUPS and not_run_reason(params, entry) is None:
            train_noise = method_entry(params, entry).config.get("train_noise")
            uses_camera_pipeline |= isinstance(train_noise, dict) and train_noise.get("name") == "cbdnet"
    if uses_camera_pipeline:
        names.append("cbdnet_crf")
    return sorted(set(names))


def pretrained_needed(params: dict[str, Any]) -> list[str]:
    """Released models (``pretrained`` registry names) that the profile's ``pretrained`` method entries read."""
    names = []
    for entry in method_entries(params):
        if not_run_reason(params, entry) is not None:
            continue
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
    types = {action.dest: action.type for action in parser._actions if callable(action.type)}
    defaults = {}
    for key, value in values.items():
        text = json.dumps(value) if isinstance(value, (dict, list)) else value
        if key in types and text is not None:  # the flag's own parser/validator checks the params value too
            try:
                text = types[key](str(text))
            except (argparse.ArgumentTypeError, TypeError, ValueError) as exc:
                raise ConfigError(f"params.yaml: {section_name}.{profile}.{key}={value!r} is invalid: {exc}") from None
        defaults[key] = text
    parser.set_defaults(**defaults)

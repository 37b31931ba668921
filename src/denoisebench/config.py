"""params.yaml: loading, the active profile, and the evaluation plan (which test cells a profile runs).

Stage scripts read params through this module only, so every key they use is validated in one place and a bad
value fails with the key's path, the value and what is allowed.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from denoisebench.errors import ConfigError

PROFILES = ("demo", "quick", "paper")
REAL_NOISE = "real"


def load_params(path: str | os.PathLike[str] = "params.yaml") -> dict[str, Any]:
    """Read ``params.yaml``; a missing or malformed file is a ConfigError naming it."""
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"{p}: params file not found; run from the repository root (where dvc.yaml is)")
    try:
        params = yaml.safe_load(p.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError(f"{p}: not valid YAML ({exc})") from exc
    if not isinstance(params, dict):
        raise ConfigError(f"{p}: expected a mapping at the top level")
    return params


def section(params: dict[str, Any], *keys: str) -> Any:
    """``params[k1][k2]...`` with a ConfigError naming the dotted path when a key is missing."""
    node: Any = params
    for depth, key in enumerate(keys):
        if not isinstance(node, dict) or key not in node:
            path = ".".join(keys[: depth + 1])
            have = ", ".join(sorted(node)) if isinstance(node, dict) else type(node).__name__
            raise ConfigError(f"params.yaml: missing key {path!r} (found: {have})")
        node = node[key]
    return node


def active_profile(params: dict[str, Any]) -> str:
    """The ``profile`` param, validated."""
    profile = params.get("profile", "quick")
    if profile not in PROFILES:
        raise ConfigError(f"params.yaml: profile={profile!r} is not one of {', '.join(PROFILES)}")
    return profile


@dataclass(frozen=True)
class Cell:
    """One test condition: a test set crossed with one noise condition.

    Attributes:
        testset: name used in result paths and tables (``kodak24``, ``demo_gray``).
        dataset: registered dataset name.
        split: dataset split or None.
        noise: noise spec text (``"awgn:sigma=25"``) or ``"real"`` for the set's own noisy images.
        limit: take only the first ``limit`` images (None = all).
    """

    testset: str
    dataset: str
    split: str | None
    noise: str
    limit: int | None

    @property
    def is_real(self) -> bool:
        return self.noise == REAL_NOISE

    @property
    def label(self) -> str:
        """Noise label used in paths: ``awgn_sigma25`` or ``real``."""
        if self.is_real:
            return REAL_NOISE
        from denoisebench.noise import parse_noise_spec

        return parse_noise_spec(self.noise).label

    @property
    def key(self) -> str:
        return f"{self.testset}/{self.label}"


def evaluation_plan(params: dict[str, Any]) -> list[Cell]:
    """The test cells of the active profile, in params order."""
    profile = active_profile(params)
    plan = section(params, "evaluation", profile)
    limit = plan.get("limit_images")
    if limit is not None and (not isinstance(limit, int) or limit < 1):
        raise ConfigError(f"params.yaml: evaluation.{profile}.limit_images={limit!r} must be a positive integer or null")
    cells: list[Cell] = []
    for i, entry in enumerate(section(params, "evaluation", profile, "sets")):
        where = f"evaluation.{profile}.sets[{i}]"
        if not isinstance(entry, dict) or "dataset" not in entry or "noise" not in entry:
            raise ConfigError(f"params.yaml: {where} needs 'dataset' and 'noise' keys, got {entry!r}")
        unknown = set(entry) - {"name", "dataset", "split", "noise"}
        if unknown:
            raise ConfigError(f"params.yaml: {where} has unknown keys {sorted(unknown)}; allowed: name, dataset, split, noise")
        for noise in entry["noise"]:
            cells.append(Cell(entry.get("name", entry["dataset"]), entry["dataset"], entry.get("split"), str(noise), limit))
    return cells


@dataclass(frozen=True)
class MethodEntry:
    """A row of the tables: a registered method with its config (one ``methods:`` entry of params.yaml)."""

    entry: str
    method: str
    config: dict[str, Any]


METHOD_GROUPS = ("classical", "learned")


def method_entries(params: dict[str, Any]) -> dict[str, str]:
    """Every method entry name mapped to its group (``classical`` needs no training, ``learned`` does)."""
    entries: dict[str, str] = {}
    for group in METHOD_GROUPS:
        for name in section(params, "methods", group) or {}:
            if name in entries:
                raise ConfigError(f"params.yaml: method entry {name!r} appears in more than one methods group")
            entries[name] = group
    return entries


def method_entry(params: dict[str, Any], entry: str) -> MethodEntry:
    """The ``methods.<group>.<entry>`` section, split into method name and config."""
    groups = method_entries(params)
    if entry not in groups:
        raise ConfigError(f"params.yaml: unknown method entry {entry!r}; entries: {', '.join(sorted(groups))}")
    raw = section(params, "methods", groups[entry], entry)
    if not isinstance(raw, dict) or "method" not in raw:
        raise ConfigError(f"params.yaml: methods.{groups[entry]}.{entry} must be a mapping with a 'method' key")
    config = {k: v for k, v in raw.items() if k != "method"}
    return MethodEntry(entry, str(raw["method"]), config)


def train_settings(params: dict[str, Any], entry: str) -> dict[str, Any]:
    """The ``train.<entry>.<profile>`` section (schedule and training set) of the active profile."""
    settings = section(params, "train", entry, active_profile(params))
    if not isinstance(settings, dict) or "dataset" not in settings:
        raise ConfigError(f"params.yaml: train.{entry}.{active_profile(params)} needs a 'dataset' key")
    return dict(settings)


def data_root(params: dict[str, Any], repo_root: Path | None = None) -> Path:
    """Absolute data root (``data.root``, relative to the repository root)."""
    root = Path(section(params, "data", "root"))
    return root if root.is_absolute() else (repo_root or Path.cwd()) / root


def data_mirror(params: dict[str, Any]) -> Path | None:
    """``data.mirror`` if set, else env ``DENOISEBENCH_MIRROR``, else None."""
    mirror = params.get("data", {}).get("mirror") or os.environ.get("DENOISEBENCH_MIRROR")
    return Path(mirror).expanduser().resolve() if mirror else None

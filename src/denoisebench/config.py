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
#: The rehearsal switch (params ``rehearsal: true``, issue 23): the active profile's every training schedule cut to
#: ``steps`` by its method's ``short_schedule`` (data keys kept), zero-shot ``iterations`` to ``steps``, every test
#: cell to ``images`` image(s), one noise realisation and a ``crop`` px centre crop. Nothing else changes, so a
#: rehearsal of the paper profile exercises its every stage, entry, dataset and param path at toy cost.
REHEARSAL = {"steps": 2, "images": 1, "crop": 48, "train_images": 4}
#: Keys of a training schedule that choose its data: a rehearsal keeps them (then caps ``limit_images``).
SCHEDULE_DATA_KEYS = ("dataset", "split", "limit_images", "pool", "pool_split")


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


def find_params_file(explicit: str | os.PathLike[str] | None = None, start: Path | None = None) -> Path | None:
    """The ``params.yaml`` a command outside the pipeline should read, or None when there is none.

    Order: ``explicit`` (``--params``; must exist); else the nearest folder at or above ``start`` (default: the
    current folder) that holds both ``dvc.yaml`` and ``params.yaml`` (the project root); else the checkout the
    package is installed from (an editable install), when it is such a root.

    Raises:
        ConfigError: ``explicit`` is given but is not a file.
    """
    if explicit is not None:
        path = Path(explicit)
        if not path.is_file():
            raise ConfigError(f"--params {path}: no such file; give the params.yaml of a denoisebench checkout")
        return path.resolve()
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents, Path(__file__).resolve().parents[2]):
        if (folder / "dvc.yaml").is_file() and (folder / "params.yaml").is_file():
            return folder / "params.yaml"
    return None


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


def rehearsal(params: dict[str, Any]) -> bool:
    """The ``rehearsal`` param (absent = false), validated."""
    value = params.get("rehearsal", False)
    if not isinstance(value, bool):
        raise ConfigError(f"params.yaml: rehearsal={value!r} must be true or false")
    return value


@dataclass(frozen=True)
class Cell:
    """One test condition: a test set crossed with one noise condition.

    Attributes:
        testset: name used in result paths and tables (``kodak24``, ``demo_gray``).
        dataset: registered dataset name.
        split: dataset split or None.
        noise: noise spec text (``"awgn:sigma=25"``) or ``"real"`` for the set's own noisy images; ``"real:<label>"``
            names what a real paired set's degradation is (``real:motion_blur`` for GoPro), so its cells carry the
            label the papers report and entries' ``evaluate_on`` patterns select them.
        limit: take only the first ``limit`` images (None = all).
        crop: centre crop side applied to clean and noisy images alike (None = whole images).
        zeroshot: the set is one that zero-shot methods (per-image training, costly) run on.
        repeats: noise realisations per image (the N2N/B2U protocol repeats Kodak x10, Set14 x20).
        entries: entry-name patterns (fnmatch; ``!pattern`` excludes) of the only entries evaluated on the set;
            None = every entry
            (issue 13: restoration sets such as haze or rain run only the input baseline and their paper's entries).
    """

    testset: str
    dataset: str
    split: str | None
    noise: str
    limit: int | None
    crop: int | None = None
    zeroshot: bool = False
    repeats: int = 1
    entries: tuple[str, ...] | None = None

    @property
    def is_real(self) -> bool:
        return self.noise == REAL_NOISE or self.noise.startswith(REAL_NOISE + ":")

    @property
    def label(self) -> str:
        """Noise label used in paths: ``awgn_sigma25``, ``real``, or the label of ``real:<label>``."""
        if self.is_real:
            return self.noise.partition(":")[2] or REAL_NOISE
        from denoisebench.noise import parse_noise_spec

        return parse_noise_spec(self.noise).label

    @property
    def key(self) -> str:
        return f"{self.testset}/{self.label}"


SET_KEYS = ("name", "dataset", "split", "noise", "limit_images", "crop", "zeroshot", "repeats", "entries")


def _positive_int(value: Any, where: str, allow_none: bool = True) -> int | None:
    """``value`` checked to be a positive integer (or None when allowed), else a ConfigError naming ``where``."""
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"params.yaml: {where}={value!r} must be a positive integer" + (" or null" if allow_none else ""))
    return value


def evaluation_plan(params: dict[str, Any]) -> list[Cell]:
    """The test cells of the active profile, in params order.

    A set may override the profile's ``limit_images`` and add ``crop`` (centre crop side), ``zeroshot: true`` (the
    sets zero-shot methods run on), ``repeats`` (noise realisations per image) and ``entries`` (entry-name
    patterns: only those entries run on the set).
    """
    profile = active_profile(params)
    plan = section(params, "evaluation", profile)
    limit = _positive_int(plan.get("limit_images"), f"evaluation.{profile}.limit_images")
    cells: list[Cell] = []
    names: set[str] = set()
    for i, entry in enumerate(section(params, "evaluation", profile, "sets")):
        where = f"evaluation.{profile}.sets[{i}]"
        if not isinstance(entry, dict) or "dataset" not in entry or "noise" not in entry:
            raise ConfigError(f"params.yaml: {where} needs 'dataset' and 'noise' keys, got {entry!r}")
        unknown = set(entry) - set(SET_KEYS)
        if unknown:
            raise ConfigError(f"params.yaml: {where} has unknown keys {sorted(unknown)}; allowed: {', '.join(SET_KEYS)}")
        name = entry.get("name", entry["dataset"])
        if name in names:
            raise ConfigError(f"params.yaml: {where}: set name {name!r} is used twice; give each set its own 'name'")
        names.add(name)
        set_limit = _positive_int(entry["limit_images"], f"{where}.limit_images") if "limit_images" in entry else limit
        crop = _positive_int(entry.get("crop"), f"{where}.crop")
        repeats = _positive_int(entry.get("repeats", 1), f"{where}.repeats", allow_none=False)
        zeroshot = entry.get("zeroshot", False)
        if not isinstance(zeroshot, bool):
            raise ConfigError(f"params.yaml: {where}.zeroshot={zeroshot!r} must be true or false")
        entries = entry.get("entries")
        if entries is not None and (not isinstance(entries, list) or not all(isinstance(e, str) for e in entries)):
            raise ConfigError(f"params.yaml: {where}.entries={entries!r} must be a list of entry-name patterns "
                              "(e.g. ['noisy', 'dncnn_*'])")
        for noise in entry["noise"]:
            if str(noise).partition(":")[0] == REAL_NOISE and repeats != 1:
                raise ConfigError(f"params.yaml: {where}: repeats={repeats} needs synthetic noise; real noise has "
                                  "one realisation per image")
            cells.append(Cell(name, entry["dataset"], entry.get("split"), str(noise), set_limit, crop, zeroshot,
                              repeats, None if entries is None else tuple(entries)))
    if rehearsal(params):
        import dataclasses

        cells = [dataclasses.replace(c, limit=REHEARSAL["images"], repeats=1,
                                     crop=min(c.crop or REHEARSAL["crop"], REHEARSAL["crop"])) for c in cells]
    return cells


def set_descriptions(params: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Per test set of the active profile: dataset, split, crop, limit_images, repeats (for results' meta)."""
    return {cell.testset: {"dataset": cell.dataset, "split": cell.split, "crop": cell.crop,
                           "limit_images": cell.limit, "repeats": cell.repeats}
            for cell in evaluation_plan(params)}


@dataclass(frozen=True)
class MethodEntry:
    """A row of the tables: a registered method with its config (one ``methods:`` entry of params.yaml).

    ``evaluate_on`` (entry key, optional): noise-label patterns (fnmatch, e.g. ``["awgn_*", "real"]``) of the
    cells the entry is evaluated on; None = every cell it can handle.
    """

    entry: str
    method: str
    config: dict[str, Any]
    evaluate_on: tuple[str, ...] | None = None
    code: str | None = None  # its source relative to src/denoisebench (a paper package or a core method module)


#: ``classical``: no training stage; ``learned``: trained by the ``train`` stage; ``cascade``: learned entries whose
#: training starts from another entry's model (``init_checkpoint``), so they train after it.
METHOD_GROUPS = ("classical", "learned", "cascade")
TRAINED_GROUPS = ("learned", "cascade")
#: Keys of a method entry that are not method config: `code` is the source the entry's stages depend on (dvc.yaml).
ENTRY_KEYS = ("method", "profiles", "evaluate_on", "code")


def method_entries(params: dict[str, Any]) -> dict[str, str]:
    """Every method entry name mapped to its group (see :data:`METHOD_GROUPS`)."""
    entries: dict[str, str] = {}
    for group in METHOD_GROUPS:
        for name in (params.get("methods") or {}).get(group) or {}:
            if name in entries:
                raise ConfigError(f"params.yaml: method entry {name!r} appears in more than one methods group")
            entries[name] = group
    if not entries:
        section(params, "methods", METHOD_GROUPS[0])  # raises, naming the missing key
    return entries


def method_entry(params: dict[str, Any], entry: str) -> MethodEntry:
    """The ``methods.<group>.<entry>`` section, split into method name, config and evaluation filter.

    An optional ``profiles: {<profile>: {...}}`` mapping is merged over the config for the active profile (the
    zero-shot methods' schedules: seconds in ``demo``, minutes in ``quick``, the paper's in ``paper``).
    """
    groups = method_entries(params)
    if entry not in groups:
        raise ConfigError(f"params.yaml: unknown method entry {entry!r}; entries: {', '.join(sorted(groups))}")
    where = f"methods.{groups[entry]}.{entry}"
    raw = section(params, "methods", groups[entry], entry)
    if not isinstance(raw, dict) or "method" not in raw:
        raise ConfigError(f"params.yaml: {where} must be a mapping with a 'method' key")
    config = {k: v for k, v in raw.items() if k not in ENTRY_KEYS}
    profiles = raw.get("profiles") or {}
    if not isinstance(profiles, dict) or set(profiles) - set(PROFILES):
        raise ConfigError(f"params.yaml: {where}.profiles must map profile names ({', '.join(PROFILES)}) to "
                          f"config overrides, got {profiles!r}")
    override = profiles.get(active_profile(params)) or {}
    if not isinstance(override, dict):
        raise ConfigError(f"params.yaml: {where}.profiles.{active_profile(params)} must be a mapping, got {override!r}")
    config.update(override)
    if rehearsal(params) and isinstance(config.get("iterations"), int):  # zero-shot per-image schedules
        config["iterations"] = min(config["iterations"], REHEARSAL["steps"])
    evaluate_on = raw.get("evaluate_on")
    if evaluate_on is not None and (not isinstance(evaluate_on, list)
                                    or not all(isinstance(p, str) for p in evaluate_on)):
        raise ConfigError(f"params.yaml: {where}.evaluate_on must be a list of noise-label patterns "
                          f"(e.g. ['awgn_*', 'real']), got {evaluate_on!r}")
    return MethodEntry(entry, str(raw["method"]), config, None if evaluate_on is None else tuple(evaluate_on),
                       raw.get("code"))


def parse_entries(params: dict[str, Any], only: list[str] | None = None) -> list[MethodEntry]:
    """The method entries of params.yaml in params order (all, or the names in ``only``), each parsed by
    :func:`method_entry` (a bad config raises a ConfigError naming its section)."""
    return [method_entry(params, name) for name in (only or list(method_entries(params)))]


def not_run_reason(params: dict[str, Any], entry: str) -> str | None:
    """Why the active profile does not run ``entry`` (params ``run_entries.<profile>``: entry-name patterns, null =
    every entry), or None when it does. The train and predict stages record such an entry at once with empty
    outputs: the demo profile is a smoke test of every stage type and paper, not of every entry."""
    import fnmatch

    profile = active_profile(params)
    patterns = (params.get("run_entries") or {}).get(profile)
    if patterns is None:
        return None
    if not isinstance(patterns, list) or not all(isinstance(p, str) for p in patterns):
        raise ConfigError(f"params.yaml: run_entries.{profile} must be a list of entry-name patterns or null (every "
                          f"entry), got {patterns!r}")
    entries = method_entries(params)
    unmatched = [p for p in patterns if not any(fnmatch.fnmatchcase(name, p) for name in entries)]
    if unmatched:
        raise ConfigError(f"params.yaml: run_entries.{profile}: {unmatched[0]!r} matches no method entry; valid "
                          f"entries: {', '.join(entries)} (fix or remove the name; shell patterns like 'liu_*' work)")
    if any(fnmatch.fnmatchcase(entry, pattern) for pattern in patterns):
        return None
    return f"not run in profile {profile} (params run_entries.{profile}; null runs every entry)"


def train_settings(params: dict[str, Any], entry: str) -> dict[str, Any]:
    """The ``train.<entry>.<profile>`` section (schedule and training set) of the active profile."""
    settings = section(params, "train", entry, active_profile(params))
    if not isinstance(settings, dict) or "dataset" not in settings:
        raise ConfigError(f"params.yaml: train.{entry}.{active_profile(params)} needs a 'dataset' key")
    if not rehearsal(params):
        return dict(settings)
    from denoisebench.methods.base import METHODS
    from denoisebench.papers import load_paper_methods

    load_paper_methods()
    data = {k: settings[k] for k in SCHEDULE_DATA_KEYS if k in settings}
    short = METHODS.get(method_entry(params, entry).method).short_schedule(
        {k: v for k, v in settings.items() if k not in data}, REHEARSAL["steps"])
    limit = min(data.get("limit_images") or REHEARSAL["train_images"], REHEARSAL["train_images"])
    return {**short, **data, "limit_images": limit}


def data_root(params: dict[str, Any], repo_root: Path | None = None) -> Path:
    """Absolute data root (``data.root``, relative to the repository root)."""
    root = Path(section(params, "data", "root"))
    return root if root.is_absolute() else (repo_root or Path.cwd()) / root


def data_mirror(params: dict[str, Any]) -> Path | None:
    """The data mirror: ``../shared/data`` beside the checkout, else ``data.mirror``, else env
    ``DENOISEBENCH_MIRROR``, else None (see :mod:`denoisebench.mirror`)."""
    from denoisebench.mirror import data_mirror as find_data_mirror

    return find_data_mirror(params)

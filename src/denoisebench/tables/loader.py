"""Read and validate the results tree the pipeline writes (the RESULTS CONTRACT).

``results/metrics/<entry>.json``: ``{set: {noise: {"psnr", "ssim", "psnr_shave3", "ssim_shave3",
"n_images", "sec_per_image"}}}``; ``results/scores/<entry>/per_image.csv`` (per-image rows) and
``results/scores/<entry>/meta.json`` (entry, method, paper, kind, profile, protocol, protocol_text,
protocol_text_shave3, choices, limit_images, train, git_rev, and optionally ``sets``: ``{set: {dataset, split,
crop, limit_images, repeats}}``; without ``sets`` a result set is its own dataset with the entry-level
``limit_images``). Every structural problem raises :class:`ResultsFormatError` naming the file.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from denoisebench.errors import DenoiseBenchError
from denoisebench.references import normalise_image_id, result_noise_label
from denoisebench.result_files import PER_IMAGE_COLUMNS
from denoisebench.tables.markdown import is_number

PROFILES = ("demo", "quick", "paper")
REQUIRED_METRICS = ("psnr", "n_images")
PER_IMAGE_REQUIRED = ("testset", "noise", "image", "psnr")
SET_INT_KEYS = ("crop", "limit_images", "repeats")

#: Images in the full test sets (a result over fewer images is flagged as a subset).
FULL_SET_SIZES: dict[str, int] = {
    "kodak24": 24, "cbsd68": 68, "bsd68_gray": 68, "set12": 12, "set14": 14, "set9": 9, "bsd300": 100,
    "urban100": 100, "polyu": 100, "cc15": 15, "live1": 29, "sidd_val": 1280,
}


class ResultsFormatError(DenoiseBenchError, ValueError):
    """A results file does not follow the results contract."""


@dataclass
class EntryResult:
    """Everything the results tree holds for one benchmark method entry."""

    entry: str
    meta: dict[str, Any]
    metrics: dict[str, dict[str, dict[str, float]]]
    per_image: Any = None  # pandas.DataFrame or None
    metrics_path: Path | None = None

    @property
    def profile(self) -> str:
        return str(self.meta["profile"])

    @property
    def choices(self) -> list[str]:
        return list(self.meta.get("choices") or [])

    @property
    def limit_images(self) -> int | None:
        """The entry-level ``limit_images`` of ``meta.json`` (see :meth:`set_limit` for one set's)."""
        return self.meta.get("limit_images")

    @property
    def sets(self) -> dict[str, dict[str, Any]]:
        """``meta.json``'s ``sets`` (result set name -> dataset, split, crop, limit_images, repeats); ``{}`` for
        older meta files."""
        return dict(self.meta.get("sets") or {})

    def set_spec(self, set_name: str) -> dict[str, Any]:
        """How result set ``set_name`` was built; a set missing from ``sets`` is its own full-image dataset
        with the entry-level ``limit_images``."""
        spec = self.sets.get(set_name)
        if spec is not None:
            return {"split": None, "crop": None, "limit_images": None, "repeats": 1, **spec}
        return {"dataset": set_name, "split": None, "crop": None, "limit_images": self.limit_images, "repeats": 1}

    def set_limit(self, set_name: str) -> int | None:
        """``limit_images`` of result set ``set_name`` (per set when ``sets`` is present)."""
        return self.set_spec(set_name).get("limit_images")

    def cell(self, testset: str, noise: str) -> dict[str, float] | None:
        """Summary metrics of result set ``testset`` and noise label ``noise``, or ``None`` when not evaluated."""
        return self.metrics.get(testset, {}).get(noise)

    def image_scores(self, testset: str, noise: str) -> dict[str, dict[str, Any]]:
        """Per-image rows of ``testset``/``noise`` keyed by normalised image id."""
        if self.per_image is None or self.per_image.empty:
            return {}
        frame = self.per_image
        sub = frame[(frame["testset"] == testset) & (frame["noise"] == noise)]
        return {normalise_image_id(r["image"]): r for r in sub.to_dict("records")}

    def is_subset(self, testset: str, noise: str) -> bool:
        """True when the cell of result set ``testset`` averaged fewer images than its dataset's full set."""
        cell = self.cell(testset, noise) or {}
        n = cell.get("n_images")
        full = FULL_SET_SIZES.get(str(self.set_spec(testset)["dataset"]))
        if full is not None and is_number(n):
            return int(n) < full
        return self.set_limit(testset) is not None

    def has(self, testset: str, noise: str, image: str | None = None) -> bool:
        """True when result set ``testset`` has a summary for ``noise`` (or, with ``image``, a per-image row)."""
        if image is not None:
            return image in self.image_scores(testset, noise)
        return self.cell(testset, noise) is not None

    def match(self, testset: str, noise: str, image: str | None = None) -> CellMatch | None:
        """Where a reported cell (reference test set ``testset``, reported noise label ``noise``, optionally one
        ``image``) lies in this entry's results, or ``None``.

        The noise label goes through :func:`~denoisebench.references.result_noise_label`. The result set named
        ``testset`` is used when it has the cell; otherwise the first set (sorted by name) whose
        ``sets[S].dataset`` is ``testset`` and which has it (e.g. the crop set ``kodak24_zs`` for ``kodak24``).
        """
        label = result_noise_label(noise)
        if self.has(testset, label, image):
            return CellMatch(self, testset, label)
        for name in sorted(self.sets):
            if name != testset and self.sets[name].get("dataset") == testset and self.has(name, label, image):
                return CellMatch(self, name, label)
        return None


@dataclass(frozen=True)
class CellMatch:
    """One entry's result for a reported cell: the result set and noise label it was found under."""

    entry: EntryResult
    set_name: str
    noise: str

    @property
    def summary(self) -> dict[str, float]:
        """The summary metrics of the matched cell."""
        return self.entry.cell(self.set_name, self.noise) or {}

    @property
    def spec(self) -> dict[str, Any]:
        """How the matched result set was built (:meth:`EntryResult.set_spec`)."""
        return self.entry.set_spec(self.set_name)

    def image_scores(self) -> dict[str, dict[str, Any]]:
        """Per-image rows of the matched cell keyed by normalised image id."""
        return self.entry.image_scores(self.set_name, self.noise)


@dataclass
class ResultSet:
    """All entries of a results tree, by entry name."""

    root: Path
    entries: dict[str, EntryResult] = field(default_factory=dict)
    #: Test sets the profile declares unavailable (``evaluation.<profile>.unavailable``): set or dataset -> reason.
    unavailable: dict[str, str] = field(default_factory=dict)

    def get(self, entry: str) -> EntryResult | None:
        return self.entries.get(entry)

    def first_match(self, entries: list[str], testset: str, noise: str,
                    image: str | None = None) -> CellMatch | None:
        """The match of the first of ``entries`` (in order) that has a result for ``testset``/``noise``
        (/``image``); see :meth:`EntryResult.match`."""
        for name in entries:
            entry = self.entries.get(name)
            found = entry.match(testset, noise, image) if entry is not None else None
            if found is not None:
                return found
        return None


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ResultsFormatError(f"{path} is not valid JSON ({exc}); rerun the score stage that writes it") from exc


def _validate_metrics(path: Path, data: Any) -> dict[str, dict[str, dict[str, float]]]:
    shape = '{"<testset>": {"<noise_label>": {"psnr": float, ..., "n_images": int}}}'
    if not isinstance(data, dict):
        raise ResultsFormatError(f"{path}: top level must be an object {shape}, got {type(data).__name__}")
    for testset, by_noise in data.items():
        if not isinstance(by_noise, dict):
            raise ResultsFormatError(f"{path}: [{testset!r}] must be an object of noise labels; expected {shape}")
        for noise, values in by_noise.items():
            where = f"{path}: [{testset!r}][{noise!r}]"
            if not isinstance(values, dict):
                raise ResultsFormatError(f"{where} must be an object of metric -> number; expected {shape}")
            missing = [k for k in REQUIRED_METRICS if k not in values]
            if missing:
                raise ResultsFormatError(f"{where} lacks {missing}; expected {shape}")
            bad = {k: v for k, v in values.items()
                   if not (v is None or (isinstance(v, (int, float)) and not isinstance(v, bool)))}
            if bad:
                raise ResultsFormatError(f"{where}: metric values must be numbers, got {bad}")
    return data


def _validate_meta(path: Path, entry: str, meta: Any) -> dict[str, Any]:
    if not isinstance(meta, dict):
        raise ResultsFormatError(f"{path}: must be a JSON object with entry, method, profile, ...")
    missing = [k for k in ("entry", "method", "profile") if k not in meta]
    if missing:
        raise ResultsFormatError(f"{path} lacks {missing}; rerun the score stage for {entry!r}")
    if meta["entry"] != entry:
        raise ResultsFormatError(f"{path}: entry {meta['entry']!r} does not match its folder/metrics name {entry!r}")
    if meta["profile"] not in PROFILES:
        raise ResultsFormatError(f"{path}: profile {meta['profile']!r} is not one of {', '.join(PROFILES)}")
    choices = meta.get("choices") or []
    if not isinstance(choices, list) or not all(isinstance(c, str) for c in choices):
        raise ResultsFormatError(f"{path}: 'choices' must be a list of strings")
    limit = meta.get("limit_images")
    if limit is not None and (not isinstance(limit, int) or isinstance(limit, bool) or limit < 1):
        raise ResultsFormatError(f"{path}: 'limit_images' must be a positive integer or null, got {limit!r}")
    _validate_sets(path, meta.get("sets"))
    return meta


def _validate_sets(path: Path, sets: Any) -> None:
    """``sets`` (optional): ``{name: {"dataset": str, "split": str|null, "crop": int|null,
    "limit_images": int|null, "repeats": int}}``."""
    if sets is None:
        return
    if not isinstance(sets, dict):
        raise ResultsFormatError(f"{path}: 'sets' must be an object of set name -> {{dataset, split, crop, "
                                 f"limit_images, repeats}}, got {type(sets).__name__}")
    for name, spec in sets.items():
        where = f"{path}: sets[{name!r}]"
        if not isinstance(spec, dict) or not isinstance(spec.get("dataset"), str):
            raise ResultsFormatError(f"{where} must be an object with a string 'dataset', got {spec!r}")
        split = spec.get("split")
        if split is not None and not isinstance(split, str):
            raise ResultsFormatError(f"{where}: 'split' must be a string or null, got {split!r}")
        for key in SET_INT_KEYS:
            value = spec.get(key)
            if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
                raise ResultsFormatError(f"{where}: {key!r} must be a positive integer or null, got {value!r}")


def _read_per_image(path: Path) -> Any:
    import pandas as pd

    try:
        frame = pd.read_csv(path, dtype={"image": str, "testset": str, "noise": str})
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise ResultsFormatError(f"{path} is not a readable CSV ({exc})") from exc
    missing = [c for c in PER_IMAGE_REQUIRED if c not in frame.columns]
    if missing:
        raise ResultsFormatError(f"{path} lacks columns {missing}; expected {', '.join(PER_IMAGE_COLUMNS)}")
    for column in ("psnr", "ssim", "psnr_shave3", "ssim_shave3", "seconds"):
        if column in frame.columns and len(frame) and not pd.api.types.is_numeric_dtype(frame[column]):
            raise ResultsFormatError(f"{path}: column {column!r} must hold numbers")
    return frame


def load_results(results_dir: str | Path, unavailable: Mapping[str, str] | None = None) -> ResultSet:
    """Load every entry of ``results_dir`` (``metrics/*.json`` + ``scores/<entry>/``); ``unavailable``: the test
    sets the profile leaves out, with the reasons (see :attr:`ResultSet.unavailable`).

    A missing ``results_dir`` or ``metrics/`` folder gives an empty set (nothing has been scored yet).

    Raises:
        ResultsFormatError: a file breaks the contract; the message names it.
    """
    root = Path(results_dir)
    out = ResultSet(root=root, unavailable=dict(unavailable or {}))
    metrics_dir = root / "metrics"
    if not metrics_dir.is_dir():
        return out
    for path in sorted(metrics_dir.glob("*.json")):
        entry = path.stem
        metrics = _validate_metrics(path, _read_json(path))
        meta_path = root / "scores" / entry / "meta.json"
        if not meta_path.is_file():
            raise ResultsFormatError(
                f"{meta_path} is missing for {path}; the tables need the entry's profile and protocol: "
                f"rerun the score stage for {entry!r}"
            )
        meta = _validate_meta(meta_path, entry, _read_json(meta_path))
        per_image_path = root / "scores" / entry / "per_image.csv"
        per_image = _read_per_image(per_image_path) if per_image_path.is_file() else None
        out.entries[entry] = EntryResult(entry, meta, metrics, per_image, path)
    return out

"""Fetching and verifying datasets: mirror first, then the declared URL; nothing unverified stays in place.

Each file is copied (mirror) or downloaded (URL) to a temporary name beside its target, hashed, and renamed onto
the target only when the hash matches the declared sha256. Files without a published hash are accepted on first
fetch and their hash is recorded in ``<root>/<folder>/.recorded.sha256`` (with a warning); later fetches and
:func:`verify_dataset` check against the recorded value.
"""

from __future__ import annotations

import logging
import os
import shutil
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from denoisebench.datasets.catalog import DATASETS
from denoisebench.datasets.download import DEFAULT_TIMEOUT, archive_stem, download, extract_archive
from denoisebench.datasets.spec import DatasetSpec, FileEntry
from denoisebench.errors import ChecksumMismatchError, DatasetError
from denoisebench.fsutil import atomic_path, sha256_file, write_text_atomic
from denoisebench.mirror import MIRROR_ENV, data_mirror

LOG = logging.getLogger(__name__)
RECORDED_NAME = ".recorded.sha256"


class UnverifiedDownloadWarning(UserWarning):
    """A file was accepted without a published sha256; its hash was recorded on first fetch."""


@dataclass
class VerifyReport:
    """Result of :func:`verify_dataset`.

    Attributes:
        name: dataset name.
        folder: the dataset folder that was checked.
        ok_files: files whose sha256 matches the declared (or recorded) one.
        missing: declared files that are absent.
        mismatched: ``(path, expected, actual)`` for files with a different sha256 or size.
        unverified: present files with neither a declared nor a recorded hash.
    """

    name: str
    folder: Path
    ok_files: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    mismatched: list[tuple[str, str, str]] = field(default_factory=list)
    unverified: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when no file is missing or mismatched."""
        return not self.missing and not self.mismatched

    def summary(self) -> str:
        """One line: ``set12: OK (12 files)`` or the counts of problems."""
        if self.ok:
            extra = f", {len(self.unverified)} without a known hash" if self.unverified else ""
            return f"{self.name}: OK ({len(self.ok_files)} files verified{extra}) in {self.folder}"
        return (f"{self.name}: FAILED in {self.folder}: {len(self.missing)} missing, {len(self.mismatched)} "
                f"mismatched, {len(self.ok_files)} ok; rerun `denoisebench datasets fetch {self.name}`")

    def __str__(self) -> str:
        return self.summary()


def get_spec(name: str | DatasetSpec) -> DatasetSpec:
    """The registered spec of ``name`` (a spec passes through, e.g. one re-based with ``with_base_url``)."""
    return name if isinstance(name, DatasetSpec) else DATASETS.get(name)


def dataset_dir(name: str | DatasetSpec, root: str | os.PathLike[str]) -> Path:
    """``root/<folder>`` of the dataset (not created)."""
    return Path(root) / get_spec(name).folder


def resolve_mirror(mirror: str | os.PathLike[str] | None) -> Path | None:
    """The mirror folder: the argument, else the one :func:`denoisebench.mirror.data_mirror` finds
    (``../shared/data`` beside the checkout, then ``$DENOISEBENCH_MIRROR``), else ``None``."""
    return Path(mirror) if mirror is not None else data_mirror()


def read_recorded(folder: Path) -> dict[str, str]:
    """Hashes recorded on first download (``path -> sha256``)."""
    file = folder / RECORDED_NAME
    if not file.is_file():
        return {}
    pairs = (line.partition("  ") for line in file.read_text(encoding="utf-8").splitlines() if line.strip())
    return {path.strip(): digest.strip().lower() for digest, _, path in pairs}


def _record(folder: Path, path: str, digest: str) -> None:
    recorded = read_recorded(folder)
    recorded[path] = digest
    write_text_atomic(folder / RECORDED_NAME, "".join(f"{d}  {p}\n" for p, d in sorted(recorded.items())))


def fetch_dataset(name: str | DatasetSpec, root: str | os.PathLike[str], mirror: str | os.PathLike[str] | None = None,
                  *, allow_download: bool = True, progress: bool = False, timeout: float = DEFAULT_TIMEOUT) -> Path:
    """Make every declared file of a dataset present and verified under ``root/<folder>``.

    Args:
        name: registered name, or a :class:`DatasetSpec` (e.g. re-based on a local server).
        root: data root; files go to ``root/<folder>/<path>``.
        mirror: folder laid out like ``shared/data`` (``<mirror>/<folder>/<path>``); default ``$DENOISEBENCH_MIRROR``.
        allow_download: when False, files missing from the mirror raise instead of being downloaded.
        progress: print download progress to stderr.
        timeout: socket timeout of each HTTP request, seconds.

    Returns:
        ``root/<folder>``.

    Raises:
        DatasetError: a file cannot be obtained (names the file, URL or mirror path and the fix).
        ChecksumMismatchError: a copied or downloaded file has another sha256 (names expected and actual).
    """
    spec = get_spec(name)
    dest = dataset_dir(spec, root)
    if spec.kind == "bundled":
        _check_bundled(spec)
        return dest
    mirror_root = resolve_mirror(mirror)
    dest.mkdir(parents=True, exist_ok=True)
    for entry in spec.files:
        _fetch_file(spec, entry, dest, mirror_root, allow_download, progress, timeout)
    for entry in spec.files:
        if entry.archive:
            digest = _expected(entry, dest) or sha256_file(dest / entry.path)
            extract_archive(dest / entry.path, dest / archive_stem(entry.path), digest)
    return dest


def _expected(entry: FileEntry, dest: Path) -> str | None:
    return entry.sha256 or read_recorded(dest).get(entry.path)


def _fetch_file(spec: DatasetSpec, entry: FileEntry, dest: Path, mirror_root: Path | None, allow_download: bool,
                progress: bool, timeout: float) -> None:
    target = dest / entry.path
    expected = _expected(entry, dest)
    if target.is_file():
        if expected is None:
            _record_first(spec, entry, dest, sha256_file(target), f"existing file {target}")
            return
        actual = sha256_file(target)
        if actual == expected:
            return
        LOG.warning("%s: %s has sha256 %s, expected %s; deleting it and fetching again",
                    spec.name, target, actual, expected)
        target.unlink()
    mirror_file = mirror_root / spec.folder / entry.path if mirror_root is not None else None
    if mirror_file is not None and mirror_file.is_file():
        with atomic_path(target) as tmp:
            shutil.copyfile(mirror_file, tmp)
            _verify_new(spec, entry, dest, tmp, expected, f"mirror file {mirror_file}",
                        f"the mirror copy is corrupt: restore {mirror_file} (e.g. from its checksums.sha256 source) "
                        f"or point DENOISEBENCH_MIRROR elsewhere")
        return
    tried = f"mirror file {mirror_file} (absent)" if mirror_file is not None else (
        f"no mirror (none of ../shared/data beside the checkout, params data.mirror, ${MIRROR_ENV})")
    if not allow_download:
        raise DatasetError(
            f"dataset {spec.name}: {entry.path} is not in {dest}; tried {tried} and downloads are disabled. "
            f"Put the mirror at ../shared/data beside the checkout, or set data.mirror in params.yaml or {MIRROR_ENV} "
            f"to a folder holding {spec.folder}/{entry.path}, or allow downloads"
        )
    if entry.url is None:
        raise DatasetError(f"dataset {spec.name}: {entry.path} has no download URL; tried {tried}. "
                           f"Place the file at {target} by hand (see {spec.homepage})")
    part = target.with_name(f".{target.name}.part")
    part.parent.mkdir(parents=True, exist_ok=True)  # nested paths (CC15's clean/, PolyU's noisy/) over a URL
    download(entry.url, part, timeout=timeout, progress=progress, what=f"{spec.name}/{entry.path}")
    try:
        _verify_new(spec, entry, dest, part, expected, f"URL {entry.url}",
                    f"the download was corrupted or the file changed upstream; rerun to download it again, or set "
                    f"{MIRROR_ENV} to a verified copy")
    except ChecksumMismatchError:
        part.unlink(missing_ok=True)
        raise
    os.replace(part, target)


def _verify_new(spec: DatasetSpec, entry: FileEntry, dest: Path, tmp: Path, expected: str | None, origin: str,
                fix: str) -> None:
    size = tmp.stat().st_size
    actual = sha256_file(tmp)
    if expected is None:
        if entry.size is not None and size != entry.size:
            raise ChecksumMismatchError(f"dataset {spec.name}: {entry.path} from {origin} has {size} bytes, "
                                        f"expected {entry.size}; {fix}")
        _record_first(spec, entry, dest, actual, origin)
        return
    if actual != expected or (entry.size is not None and size != entry.size):
        raise ChecksumMismatchError(
            f"dataset {spec.name}: sha256 mismatch for {entry.path} from {origin}: expected {expected}, "
            f"actual {actual} ({size} bytes); the file was not kept. Fix: {fix}"
        )


def _record_first(spec: DatasetSpec, entry: FileEntry, dest: Path, digest: str, origin: str) -> None:
    _record(dest, entry.path, digest)
    message = (f"dataset {spec.name}: no published sha256 for {entry.path}; recorded {digest} from {origin} in "
               f"{dest / RECORDED_NAME} (trust on first use; later fetches are checked against it)")
    LOG.warning(message)
    warnings.warn(message, UnverifiedDownloadWarning, stacklevel=4)


def _check_bundled(spec: DatasetSpec) -> None:
    from denoisebench.datasets.demo import skimage_data_dir

    base = skimage_data_dir()
    missing = [f.path for f in spec.files if not (base / f.path).is_file()]
    if missing:
        raise DatasetError(f"dataset {spec.name}: {missing} missing from scikit-image's data folder {base}; "
                           "reinstall scikit-image")


def verify_dataset(name: str | DatasetSpec, root: str | os.PathLike[str]) -> VerifyReport:
    """Hash every declared file of a dataset under ``root/<folder>`` (bundled sets: inside scikit-image)."""
    spec = get_spec(name)
    if spec.kind == "bundled":
        from denoisebench.datasets.demo import skimage_data_dir

        folder = skimage_data_dir()
        recorded: dict[str, str] = {}
    else:
        folder = dataset_dir(spec, root)
        recorded = read_recorded(folder)
    report = VerifyReport(spec.name, folder)
    for entry in spec.files:
        path = folder / entry.path
        expected = entry.sha256 or recorded.get(entry.path)
        if not path.is_file():
            report.missing.append(entry.path)
        elif expected is None:
            report.unverified.append(entry.path)
        else:
            actual = sha256_file(path)
            if actual == expected:
                report.ok_files.append(entry.path)
            else:
                report.mismatched.append((entry.path, expected, actual))
    return report

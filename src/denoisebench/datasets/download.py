"""Resumable HTTP downloads with the standard library only (urllib), plus safe archive extraction."""

from __future__ import annotations

import http.client
import os
import shutil
import sys
import tarfile
import tempfile
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

from denoisebench.errors import DatasetError

DEFAULT_TIMEOUT = 60.0
CHUNK = 1 << 20
USER_AGENT = "denoisebench/0.1 (+https://github.com; dataset fetcher)"


def download(url: str, part: Path, *, timeout: float = DEFAULT_TIMEOUT, progress: bool = False,
             what: str = "") -> None:
    """Download ``url`` into ``part``, continuing an existing partial file with an HTTP Range request.

    A server that ignores the Range header answers 200 and the file restarts from zero. The partial file is
    kept when the transfer breaks, so a rerun continues it; the caller verifies and renames it.

    Raises:
        DatasetError: HTTP error (404, ...), unreachable host, timeout or a transfer that ended early.
    """
    start = part.stat().st_size if part.exists() else 0
    headers = {"User-Agent": USER_AGENT}
    if start:
        headers["Range"] = f"bytes={start}-"
    request = urllib.request.Request(url, headers=headers)
    label = what or url
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and start:  # nothing left to send: the partial file is complete
            return
        raise DatasetError(f"{label}: HTTP {exc.code} {exc.reason} for {url}; check the URL or use a mirror "
                           "(set DENOISEBENCH_MIRROR)") from None
    except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
        raise DatasetError(f"{label}: cannot reach {url} ({exc}); check the network or set DENOISEBENCH_MIRROR "
                           "to an offline copy") from None
    with response:
        resumed = bool(start) and response.status == 206
        offset = start if resumed else 0
        length = response.headers.get("Content-Length")
        total = offset + int(length) if length and length.isdigit() else None
        received = offset
        try:
            with open(part, "ab" if resumed else "wb") as handle:
                while chunk := response.read(CHUNK):
                    handle.write(chunk)
                    received += len(chunk)
                    if progress:
                        _report(label, received, total)
        except (OSError, http.client.HTTPException) as exc:
            raise DatasetError(f"{label}: download from {url} interrupted after {received} bytes ({exc}); "
                               f"rerun to resume from {part}") from None
    if progress:
        print(file=sys.stderr)
    if total is not None and received < total:
        raise DatasetError(f"{label}: download from {url} interrupted after {received} of {total} bytes; "
                           f"rerun to resume from {part}")


def _report(label: str, received: int, total: int | None) -> None:
    done = f"{received / 2**20:.1f} MiB" + (f" / {total / 2**20:.1f} MiB" if total else "")
    print(f"\r{label}: {done}", end="", file=sys.stderr, flush=True)


def archive_stem(name: str) -> str:
    """``Mi3_Aligned.tar.gz`` -> ``Mi3_Aligned``."""
    for suffix in (".tar.gz", ".tgz", ".tar.bz2", ".tar.xz", ".tar", ".zip"):
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return Path(name).stem


def extract_archive(archive: Path, target: Path, marker_text: str) -> Path:
    """Extract ``archive`` into ``target`` atomically (temp folder, then rename) and write a marker file.

    Nothing is extracted when ``target/.extracted`` already holds ``marker_text`` (the archive's sha256).
    Members that would land outside ``target`` (absolute paths, ``..``, links out) are refused.

    Raises:
        DatasetError: unknown archive type or an unsafe member.
    """
    marker = target / ".extracted"
    if marker.is_file() and marker.read_text(encoding="utf-8").strip() == marker_text:
        return target
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".extracting", dir=target.parent))
    try:
        if zipfile.is_zipfile(archive):
            with zipfile.ZipFile(archive) as zf:
                for member in zf.namelist():
                    _check_member(archive, tmp, member)
                zf.extractall(tmp)
        elif tarfile.is_tarfile(archive):
            with tarfile.open(archive) as tf:
                _extract_tar(archive, tf, tmp)
        else:
            raise DatasetError(f"{archive}: not a zip or tar archive; delete it and rerun the fetch")
        (tmp / ".extracted").write_text(marker_text + "\n", encoding="utf-8")
        if target.exists():
            shutil.rmtree(target)
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)
    return target


def _extract_tar(archive: Path, tf: tarfile.TarFile, root: Path) -> None:
    """Extract with tarfile's ``data`` filter; on a Python without it (before 3.11.4), check every member's path
    and link target as for zip archives."""
    if hasattr(tarfile, "data_filter"):
        try:
            tf.extractall(root, filter="data")
        except tarfile.FilterError as exc:
            raise DatasetError(f"{archive}: unsafe archive member ({exc}); delete {archive} and rerun") from None
        return
    for member in tf.getmembers():
        _check_member(archive, root, member.name)
        if member.issym() or member.islnk():
            _check_member(archive, root, str(Path(member.name).parent / member.linkname))
    tf.extractall(root)


def _check_member(archive: Path, root: Path, member: str) -> None:
    dest = (root / member).resolve()
    if os.path.isabs(member) or not dest.is_relative_to(root.resolve()):
        raise DatasetError(f"{archive}: member {member!r} would be written outside {root}; the archive is unsafe, "
                           f"delete {archive}")

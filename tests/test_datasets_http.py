"""Download code paths against a local HTTP server on 127.0.0.1: resume, 404, mismatch, SIDD, RENOIR."""

from __future__ import annotations

import functools
import hashlib
import io
import shutil
import tarfile
import threading
import zipfile
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Iterator

import numpy as np
import pytest
import scipy.io

from denoisebench.datasets import (
    UnverifiedDownloadWarning,
    fetch_dataset,
    get_spec,
    list_samples,
    verify_dataset,
)
from denoisebench.datasets.spec import FileEntry
from denoisebench.errors import ChecksumMismatchError, DatasetError

pytestmark = pytest.mark.network


class _Handler(SimpleHTTPRequestHandler):
    """Static files with single-range support; paths in ``server.truncate_once`` are cut short once."""

    def log_message(self, format: str, *args: object) -> None:  # quiet
        pass

    def do_GET(self) -> None:  # noqa: N802 (http.server naming)
        server = self.server
        server.requests.append((self.path, self.headers.get("Range")))  # type: ignore[attr-defined]
        path = Path(self.translate_path(self.path))
        if not path.is_file():
            self.send_error(404, "not found")
            return
        data = path.read_bytes()
        start = 0
        if rng := self.headers.get("Range"):
            start = int(rng.removeprefix("bytes=").split("-")[0])
            if start >= len(data):
                self.send_error(416, "range not satisfiable")
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            self.send_response(200)
        body = data[start:]
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.path in server.truncate_once:  # type: ignore[attr-defined]
            server.truncate_once.discard(self.path)  # type: ignore[attr-defined]
            body = body[: len(body) // 2]
            self.close_connection = True
        self.wfile.write(body)


@pytest.fixture
def http_root(tmp_path: Path) -> Iterator[tuple[str, Path, ThreadingHTTPServer]]:
    """``(base_url, served_folder, server)`` of a server started for this test only."""
    served = tmp_path / "served"
    served.mkdir()
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Handler, directory=str(served)))
    server.requests, server.truncate_once = [], set()  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", served, server
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(autouse=True)
def _no_found_mirror(no_mirror: None) -> None:
    """Mirrors are passed explicitly here; none is discovered."""


def test_download_resumes_after_interruption(shared_data: Path, tmp_path: Path, http_root) -> None:
    base, served, server = http_root
    shutil.copytree(shared_data / "Set12", served / "Set12")
    spec = get_spec("set12").with_base_url(f"{base}/Set12")
    server.truncate_once.add("/Set12/08.png")
    root = tmp_path / "data"
    with pytest.raises(DatasetError, match="interrupted.*rerun to resume"):
        fetch_dataset(spec, root)
    folder = root / "Set12"
    assert (folder / "07.png").is_file() and not (folder / "08.png").exists()
    part = folder / ".08.png.part"
    assert 0 < part.stat().st_size < (served / "Set12" / "08.png").stat().st_size
    partial_size = part.stat().st_size
    assert fetch_dataset(spec, root) == folder
    ranged = [(p, r) for p, r in server.requests if r]
    assert ranged == [("/Set12/08.png", f"bytes={partial_size}-")]
    counts = {p: sum(1 for q, _ in server.requests if q == p) for p, _ in server.requests}
    assert counts["/Set12/01.png"] == 1 and counts["/Set12/08.png"] == 2  # verified files are not re-fetched
    assert not part.exists() and verify_dataset(spec, root).ok


def test_http_404_and_disabled_downloads(tmp_path: Path, http_root) -> None:
    base, _, _ = http_root
    spec = get_spec("set12").with_base_url(f"{base}/nowhere")
    with pytest.raises(DatasetError, match=r"HTTP 404.*/nowhere/01\.png.*DENOISEBENCH_MIRROR"):
        fetch_dataset(spec, tmp_path)
    assert not (tmp_path / "Set12" / "01.png").exists()
    with pytest.raises(DatasetError, match="downloads are disabled"):
        fetch_dataset(spec, tmp_path, allow_download=False)


def test_http_mismatch_leaves_no_file(shared_data: Path, tmp_path: Path, http_root) -> None:
    base, served, _ = http_root
    shutil.copytree(shared_data / "Set12", served / "Set12")
    (served / "Set12" / "01.png").write_bytes(b"not the image")
    spec = get_spec("set12").with_base_url(f"{base}/Set12")
    with pytest.raises(ChecksumMismatchError) as info:
        fetch_dataset(spec, tmp_path)
    expected = spec.file("01.png").sha256
    actual = hashlib.sha256(b"not the image").hexdigest()
    assert expected in str(info.value) and actual in str(info.value) and f"{base}/Set12/01.png" in str(info.value)
    assert list((tmp_path / "Set12").iterdir()) == []


def _sidd_arrays() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(7)
    clean = rng.integers(0, 256, size=(2, 3, 16, 16, 3), dtype=np.uint8)
    noisy = np.clip(clean.astype(int) + rng.integers(-20, 21, size=clean.shape), 0, 255).astype(np.uint8)
    return noisy, clean


def test_sidd_blocks_over_http(tmp_path: Path, http_root) -> None:
    base, served, _ = http_root
    noisy, clean = _sidd_arrays()
    (served / "SIDD").mkdir()
    scipy.io.savemat(served / "SIDD" / "ValidationNoisyBlocksSrgb.mat", {"ValidationNoisyBlocksSrgb": noisy})
    scipy.io.savemat(served / "SIDD" / "ValidationGtBlocksSrgb.mat", {"ValidationGtBlocksSrgb": clean})
    spec = get_spec("sidd_val").with_base_url(f"{base}/SIDD")
    with pytest.warns(UnverifiedDownloadWarning, match="recorded"):
        folder = fetch_dataset(spec, tmp_path)
    recorded = (folder / ".recorded.sha256").read_text()
    assert "ValidationNoisyBlocksSrgb.mat" in recorded and "ValidationGtBlocksSrgb.mat" in recorded
    assert verify_dataset(spec, tmp_path).ok
    samples = list_samples(spec, tmp_path)
    assert [s.id for s in samples] == [f"img{i:02d}_blk{j:02d}" for i in range(2) for j in range(3)]
    ref = samples[4]  # img01_blk01
    np.testing.assert_array_equal(ref.clean(), clean[1, 1].astype(np.float32) / 255)
    np.testing.assert_array_equal(ref.noisy(), noisy[1, 1].astype(np.float32) / 255)
    assert ref.clean().shape == (16, 16, 3) and ref.clean().dtype == np.float32
    # the recorded hash now guards later downloads
    (folder / "ValidationGtBlocksSrgb.mat").unlink()
    scipy.io.savemat(served / "SIDD" / "ValidationGtBlocksSrgb.mat", {"ValidationGtBlocksSrgb": clean[::-1]})
    with pytest.raises(ChecksumMismatchError, match="expected [0-9a-f]{64}, actual [0-9a-f]{64}"):
        fetch_dataset(spec, tmp_path)
    assert not (folder / "ValidationGtBlocksSrgb.mat").exists()


def _bmp(value: int) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.full((8, 12, 3), value, dtype=np.uint8)).save(buf, format="BMP")
    return buf.getvalue()


def test_renoir_archives_over_http(tmp_path: Path, http_root) -> None:
    base, served, _ = http_root
    (served / "RENOIR").mkdir()
    batch = {"IMG_1Reference.bmp": _bmp(100), "IMG_4full.bmp": _bmp(103), "IMG_2Noisy.bmp": _bmp(90),
             "IMG_3Noisy.bmp": _bmp(120)}
    with zipfile.ZipFile(served / "RENOIR" / "Mi3_Aligned.zip", "w") as zf:
        for b in ("Batch_001", "Batch_002"):
            for name, data in batch.items():
                zf.writestr(f"Mi3_Aligned/{b}/{name}", data)
    with tarfile.open(served / "RENOIR" / "T3i_Aligned.tar.gz", "w:gz") as tf:
        for name in ("IMG_1Reference.bmp", "IMG_2Noisy.bmp"):
            info = tarfile.TarInfo(f"Batch_001/{name}")
            info.size = len(batch[name])
            tf.addfile(info, io.BytesIO(batch[name]))
    spec = get_spec("renoir")
    spec = spec.with_files((FileEntry("Mi3_Aligned.zip", "x", archive=True),
                            FileEntry("T3i_Aligned.tar.gz", "x", archive=True))).with_base_url(f"{base}/RENOIR")
    with pytest.warns(UnverifiedDownloadWarning):
        folder = fetch_dataset(spec, tmp_path)
    assert (folder / "Mi3_Aligned" / "Mi3_Aligned" / "Batch_002" / "IMG_3Noisy.bmp").is_file()
    assert (folder / "T3i_Aligned" / ".extracted").is_file()
    samples = list_samples(spec, tmp_path)
    assert [s.id for s in samples] == ["Mi3_Batch_001_IMG_2", "Mi3_Batch_001_IMG_3", "Mi3_Batch_002_IMG_2",
                                       "Mi3_Batch_002_IMG_3", "T3i_Batch_001_IMG_2"]
    assert np.allclose(samples[0].clean(), np.rint((100 + 103) / 2) / 255)  # mean of Reference and full
    assert np.allclose(samples[1].noisy(), 120 / 255) and samples[1].noisy().shape == (8, 12, 3)
    assert np.allclose(samples[-1].clean(), 100 / 255)  # Reference only
    marker = (folder / "Mi3_Aligned" / ".extracted").stat().st_mtime_ns
    fetch_dataset(spec, tmp_path)  # verified archives are neither downloaded nor extracted again
    assert (folder / "Mi3_Aligned" / ".extracted").stat().st_mtime_ns == marker


def test_unsafe_archive_is_refused(tmp_path: Path, http_root) -> None:
    base, served, _ = http_root
    (served / "RENOIR").mkdir()
    with zipfile.ZipFile(served / "RENOIR" / "Mi3_Aligned.zip", "w") as zf:
        zf.writestr("../escape.bmp", b"x")
    spec = get_spec("renoir").with_files((FileEntry("Mi3_Aligned.zip", "x", archive=True),))
    with pytest.warns(UnverifiedDownloadWarning), pytest.raises(DatasetError, match="outside"):
        fetch_dataset(spec.with_base_url(f"{base}/RENOIR"), tmp_path)
    assert not (tmp_path / "escape.bmp").exists() and not (tmp_path / "RENOIR" / "Mi3_Aligned").exists()


@pytest.mark.parametrize("tar_filter", [True, False], ids=["data-filter", "python-without-filter"])
def test_tar_archives_extract_and_unsafe_members_are_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                           tar_filter: bool) -> None:
    import io
    import tarfile

    from denoisebench.datasets.download import extract_archive

    if not tar_filter:  # Python < 3.11.4 has no extraction filters: the members are checked one by one
        monkeypatch.delattr(tarfile, "data_filter", raising=False)

    def tar(path: Path, name: str, link: str | None = None) -> Path:
        with tarfile.open(path, "w") as tf:
            info = tarfile.TarInfo(name)
            if link is None:
                info.size = 1
                tf.addfile(info, io.BytesIO(b"x"))
            else:
                info.type, info.linkname = tarfile.SYMTYPE, link
                tf.addfile(info)
        return path

    out = extract_archive(tar(tmp_path / "ok.tar", "dir/a.bmp"), tmp_path / "ok", "ok")
    assert (out / "dir" / "a.bmp").read_bytes() == b"x"
    for name, link in (("../escape.bmp", None), ("evil", "/etc/passwd")):
        with pytest.raises(DatasetError, match="unsafe|outside"):
            extract_archive(tar(tmp_path / "bad.tar", name, link), tmp_path / "bad", "bad")
        assert not (tmp_path / "bad").exists() and not (tmp_path / "escape.bmp").exists()

"""Shared fixtures: the offline data mirror and a quiet, offline environment for every test."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from denoisebench.mirror import data_mirror

REPO_ROOT = Path(__file__).resolve().parents[1]
#: Found as the pipeline finds it: ``../shared/data`` beside the checkout, then ``DENOISEBENCH_MIRROR``.
SHARED_DATA = data_mirror(start=REPO_ROOT) or (REPO_ROOT.parent / "shared" / "data").resolve()

os.environ.setdefault("DVC_NO_ANALYTICS", "1")
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("MPLBACKEND", "Agg")


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The offline mirror of the public datasets (``../shared/data`` beside the checkout)."""
    if not (SHARED_DATA / "checksums.sha256").is_file():
        pytest.fail(f"the data mirror {SHARED_DATA} is missing; put a copy of shared/ beside the checkout or set "
                    "DENOISEBENCH_MIRROR to a copy of shared/data")
    return SHARED_DATA


@pytest.fixture
def no_mirror(monkeypatch: pytest.MonkeyPatch) -> None:
    """No data mirror is found (neither beside the checkout nor through the env): fetches go to the URLs."""
    import denoisebench.mirror

    monkeypatch.delenv("DENOISEBENCH_MIRROR", raising=False)
    monkeypatch.setattr(denoisebench.mirror, "checkout_roots", lambda start=None: [])


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture
def file_server(tmp_path: Path):
    """``(base_url, folder)``: a local HTTP server of ``tmp_path/served`` for this test only."""
    import functools
    import threading
    from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

    folder = tmp_path / "served"
    folder.mkdir()
    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(folder))
    handler.log_message = lambda *a, **k: None  # type: ignore[attr-defined]
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", folder
    finally:
        server.shutdown()
        server.server_close()

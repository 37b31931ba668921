"""params ``data.sources`` (issue 23): datasets re-based on another server; other hashes only in a rehearsal."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
import yaml

from denoisebench.datasets import fetch_dataset, get_spec, verify_dataset
from denoisebench.errors import ConfigError
from denoisebench.sources import load_sources, sourced_spec

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


def _params(tmp_path: Path, sources: dict, rehearsal: bool = False) -> dict:
    file = tmp_path / "sources.yaml"
    file.write_text(yaml.safe_dump(sources))
    return {"profile": "paper", "rehearsal": rehearsal, "data": {"root": "data/raw", "sources": str(file)}}


@pytest.mark.skipif(not (SHARED / "Set12").is_dir(), reason=f"{SHARED}/Set12 absent (../shared beside the checkout)")
def test_a_base_url_alone_fetches_the_real_files_and_checks_the_published_hashes(tmp_path, file_server) -> None:
    base, served = file_server
    for f in get_spec("set12").files:
        (served / "Set12").mkdir(exist_ok=True)
        (served / "Set12" / f.path).write_bytes((SHARED / "Set12" / f.path).read_bytes())
    params = _params(tmp_path, {"set12": {"base_url": f"{base}/Set12"}})
    spec = sourced_spec("set12", load_sources(params))
    assert all(f.url.startswith(base) for f in spec.files)
    assert [f.sha256 for f in spec.files] == [f.sha256 for f in get_spec("set12").files]
    fetch_dataset(spec, tmp_path / "data", mirror=tmp_path / "no-mirror")
    assert verify_dataset("set12", tmp_path / "data").ok


def test_other_files_and_hashes_are_refused_outside_a_rehearsal(tmp_path) -> None:
    sources = {"set12": {"base_url": "http://127.0.0.1:1/Set12", "files": [{"path": "01.png", "sha256": "0" * 64,
                                                                               "size": 1}]}}
    with pytest.raises(ConfigError, match=r"accepted only in a rehearsal \(-S rehearsal=true\)"):
        load_sources(_params(tmp_path, sources))
    assert load_sources(_params(tmp_path, sources, rehearsal=True))["set12"]["files"][0]["path"] == "01.png"


def test_a_rehearsal_fetches_fixture_bytes_and_a_set_without_url_gets_one(tmp_path, file_server) -> None:
    base, served = file_server
    spec = get_spec("did_mdn_test") if _registered("did_mdn_test") else None
    if spec is None:
        pytest.skip("paper 002's datasets are not registered")
    assert not any(f.url for f in spec.files)  # published without a URL: placed by hand in a real run
    data = b"not the real archive"
    path = spec.files[0].path
    (served / spec.folder).mkdir(parents=True)
    (served / spec.folder / path).write_bytes(data)
    entry = {"path": path, "sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
    params = _params(tmp_path, {"did_mdn_test": {"base_url": f"{base}/{spec.folder}", "files": [entry]}}, True)
    sourced = sourced_spec("did_mdn_test", load_sources(params))
    assert sourced.files[0].url == f"{base}/{spec.folder}/{path}" and sourced.files[0].archive == spec.files[0].archive
    fetch_dataset(sourced.with_files(tuple(f.__class__(f.path, f.url, f.sha256, f.size, False)
                                           for f in sourced.files)), tmp_path / "data", mirror=tmp_path / "none")
    assert (tmp_path / "data" / spec.folder / path).read_bytes() == data


def test_bad_sources_name_the_file_and_the_fix(tmp_path) -> None:
    with pytest.raises(ConfigError, match="no such file"):
        load_sources({"data": {"sources": str(tmp_path / "absent.yaml")}})
    with pytest.raises(ConfigError, match="needs a base_url"):
        load_sources(_params(tmp_path, {"set12": {"url": "x"}}))
    params = _params(tmp_path, {"set12": {"base_url": "http://h/Set12", "files": [
        {"path": "nope.png", "sha256": "0" * 64, "size": 1}]}}, rehearsal=True)
    with pytest.raises(ConfigError, match="'nope.png' is not a file of the dataset"):
        sourced_spec("set12", load_sources(params))


def test_preflight_reports_a_sourced_set_as_downloaded_from_its_server(tmp_path) -> None:
    from denoisebench.config import load_params
    from denoisebench.preflight import preflight

    params = load_params(Path(__file__).resolve().parents[1] / "params.yaml")
    sources = tmp_path / "sources.yaml"
    sources.write_text(yaml.safe_dump({"did_mdn_test": {"base_url": "http://127.0.0.1:9/DID-MDN"}}))
    params.update(profile="paper", data={**params["data"], "sources": str(sources)})
    items = {it.name: it for it in preflight(params, tmp_path)}
    assert items["did_mdn_test"].status == "download" and "127.0.0.1:9" in items["did_mdn_test"].source


def _registered(name: str) -> bool:
    from denoisebench.papers import load_paper_methods

    load_paper_methods()
    try:
        get_spec(name)
    except Exception:
        return False
    return True


def test_a_file_in_a_subfolder_downloads_without_a_mirror(tmp_path, file_server) -> None:
    """The rehearsal's first catch: CC15 and PolyU keep their files in clean/ and noisy/; over a URL (no mirror) the
    partial file's folder did not exist, so a GPU machine without the mirror failed on the first such file."""
    base, served = file_server
    spec = get_spec("cc15")
    path = spec.files[0].path
    assert "/" in path
    data = b"fixture bytes"
    (served / spec.folder / path).parent.mkdir(parents=True)
    (served / spec.folder / path).write_bytes(data)
    params = _params(tmp_path, {"cc15": {"base_url": f"{base}/{spec.folder}", "files": [
        {"path": path, "sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}]}}, rehearsal=True)
    fetch_dataset(sourced_spec("cc15", load_sources(params)), tmp_path / "data", mirror=tmp_path / "no-mirror")
    assert (tmp_path / "data" / spec.folder / path).read_bytes() == data

"""SIDD and RENOIR cells (issue 23): the paper profile evaluates them under the names of the papers' reported
cells; the quick profile lists them as unavailable offline; the cells synthesize from fixtures in the sets' real
layouts, served over HTTP (the fixtures of tests/test_datasets_http.py)."""

from __future__ import annotations

import csv
import zipfile
from pathlib import Path

import scipy.io
from test_datasets_http import _bmp, _sidd_arrays, http_root  # noqa: F401 (the fixture)

from denoisebench.config import evaluation_plan, load_params
from denoisebench.datasets import fetch_dataset, get_spec
from denoisebench.datasets.spec import FileEntry
from denoisebench.preflight import preflight
from denoisebench.synthesis import read_manifest, synthesize_cell

REPO = Path(__file__).resolve().parents[1]


def _params(profile: str) -> dict:
    params = load_params(REPO / "params.yaml")
    params["profile"] = profile
    return params


def _cells(profile: str, dataset: str) -> list:
    return [c for c in evaluation_plan(_params(profile)) if c.dataset == dataset]


def test_paper_profile_cells_carry_the_reported_cells_names() -> None:
    sidd, renoir = _cells("paper", "sidd_val"), _cells("paper", "renoir")
    assert [(c.key, c.zeroshot, c.limit) for c in sidd] == [("sidd_val/real", True, None)]
    assert [(c.key, c.limit) for c in renoir] == [("renoir/real", None)]
    with open(REPO / "references" / "blind2grad.csv", encoding="utf-8") as fh:
        reported = {(row["testset"], row["noise"]) for row in csv.DictReader(fh)}
    assert ("sidd_val", "real") in reported  # paper 003 Table 5's sRGB rows land on this cell


def test_quick_profile_lists_them_as_unavailable() -> None:
    assert not _cells("quick", "sidd_val") and not _cells("quick", "renoir")
    items = {it.name: it for it in preflight(_params("quick"), REPO) if it.status == "unavailable"}
    assert set(items) == {"sidd_val", "renoir"}
    assert all("offline" in it.how for it in items.values())


def test_paper_cells_synthesize_from_served_fixtures(tmp_path: Path, http_root) -> None:  # noqa: F811
    base, served, _ = http_root
    noisy, clean = _sidd_arrays()
    (served / "SIDD").mkdir()
    scipy.io.savemat(served / "SIDD" / "ValidationNoisyBlocksSrgb.mat", {"ValidationNoisyBlocksSrgb": noisy})
    scipy.io.savemat(served / "SIDD" / "ValidationGtBlocksSrgb.mat", {"ValidationGtBlocksSrgb": clean})
    (served / "RENOIR").mkdir()
    with zipfile.ZipFile(served / "RENOIR" / "Mi3_Aligned.zip", "w") as zf:
        for name, value in {"IMG_1Reference.bmp": 100, "IMG_2Noisy.bmp": 90, "IMG_3Noisy.bmp": 120}.items():
            zf.writestr(f"Mi3_Aligned/Batch_001/{name}", _bmp(value))
    root = tmp_path / "raw"
    fetch_dataset(get_spec("sidd_val").with_base_url(f"{base}/SIDD"), root)
    renoir = get_spec("renoir").with_files((FileEntry("Mi3_Aligned.zip", "x", archive=True),))
    fetch_dataset(renoir.with_base_url(f"{base}/RENOIR"), root)
    (sidd,), (renoir_cell,) = _cells("paper", "sidd_val"), _cells("paper", "renoir")
    sidd_manifest = read_manifest(synthesize_cell(sidd, root, tmp_path / "noisy", 0, {}))
    assert len(sidd_manifest["images"]) == 6 and sidd_manifest["label"] == "real"
    assert sidd_manifest["images"][0]["shape"] == [16, 16, 3]
    renoir_manifest = read_manifest(synthesize_cell(renoir_cell, root, tmp_path / "noisy", 0, {}))
    assert [r["id"] for r in renoir_manifest["images"]] == ["Mi3_Batch_001_IMG_2", "Mi3_Batch_001_IMG_3"]


def test_pages_name_the_unavailable_sets_and_why(tmp_path: Path) -> None:
    import sys

    sys.path.insert(0, str(REPO / "stages"))
    from tables import unavailable_sets  # the tables stage's reading of the params

    from denoisebench.papers import find_paper
    from denoisebench.references import read_reference_csv
    from denoisebench.tables.cells import paper_cells, status_line
    from denoisebench.tables.loader import load_results
    from denoisebench.tables.results import render_results_md

    params_file = tmp_path / "params.yaml"
    params_file.write_text((REPO / "params.yaml").read_text())
    unavailable = unavailable_sets(params_file)
    assert "offline mirror" in unavailable["sidd_val"] and "offline mirror" in unavailable["renoir"]
    paper = find_paper("003")
    frame = read_reference_csv(paper.reported_path(REPO / "references"))
    records = frame.astype(object).where(frame.notna(), None).to_dict("records")
    cells = paper_cells(paper, records, load_results(REPO / "results", unavailable))
    sidd = [c for c in cells if c.testset == "sidd_val" and c.method == "Ours"]
    assert sidd and all("not evaluated in this profile: sidd_val (SIDD sRGB" in c.verdict.why for c in sidd)
    assert "test set not evaluated in this profile (sidd_val)" in status_line(cells)
    without = paper_cells(paper, records, load_results(REPO / "results"))
    assert not any("not evaluated in this profile" in c.verdict.why for c in without)
    assert "- renoir: RENOIR" in render_results_md(load_results(REPO / "results", unavailable))

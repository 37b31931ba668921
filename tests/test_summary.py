"""results/summary/ (headline metrics and the reported-vs-reproduced scatter) and the training-curve CSV."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from denoisebench.tables import load_results, write_paper_tables
from denoisebench.tables.summary import _cells, comparisons, headline, write_summary
from denoisebench.curves import CurveLog

REPO = Path(__file__).resolve().parents[1]
REFS = REPO / "references"


def _entry(root: Path, name: str, metrics: dict, per_image: list[list] | None = None, profile: str = "quick") -> None:
    """One entry of the results contract (metrics JSON, meta.json, per_image.csv)."""
    (root / "metrics").mkdir(parents=True, exist_ok=True)
    (root / "metrics" / f"{name}.json").write_text(json.dumps(metrics))
    scores = root / "scores" / name
    scores.mkdir(parents=True, exist_ok=True)
    (scores / "meta.json").write_text(json.dumps({"entry": name, "method": name, "paper": "baseline",
                                                  "kind": "classical", "profile": profile, "limit_images": None,
                                                  "choices": [], "train": {}}))
    rows = ["entry,method,testset,noise,image,psnr,ssim,psnr_shave3,ssim_shave3,seconds"]
    rows += [",".join(str(v) for v in [name, name, *row]) for row in per_image or []]
    (scores / "per_image.csv").write_text("\n".join(rows) + "\n")


def _cell(psnr: float, n: int) -> dict:
    return {"psnr": psnr, "ssim": 0.8, "psnr_shave3": psnr, "ssim_shave3": 0.8, "n_images": n, "sec_per_image": 1.0}


@pytest.fixture()
def results(tmp_path: Path) -> Path:
    root = tmp_path / "results"
    _entry(root, "bm3d", {"kodak24": {"awgn_sigma25": _cell(31.5, 24)}, "cbsd68": {"awgn_sigma50": _cell(27.2, 4)}},
           per_image=[["kodak24", "awgn_sigma25", "kodim01.png", 29.0, 0.8, 29.1, 0.8, 1.0]])
    _entry(root, "noisy", {"kodak24": {"awgn_sigma25": _cell(20.0, 24)}})
    return root


def test_comparisons_match_cells_as_the_pages_do(results: Path) -> None:
    rows = {(r.paper, r.table, r.method, r.cell): r for r in comparisons(_cells(load_results(results), REFS))}
    average = rows[("blind2grad", "Table 3", "BM3D", "Kodak24, awgn_sigma25")]  # a dataset average
    assert (average.entry, average.reported, average.reproduced, average.delta) == ("bm3d", 31.87, 31.5, -0.37)
    assert (average.profile, average.evidence, average.verdict) == ("quick", "classical", "computed")
    assert ("semantic_denoise", "Table II", "CBM3D", "Kodak24, awgn_sigma25") in rows  # the average of Table II
    assert not any("kodim" in cell for (*_, cell) in rows)  # per-image rows stay on the pages' tables
    assert all(r.entry == "bm3d" for r in rows.values())  # `noisy` answers only paper 000's "Noisy input"


def test_summary_files_count_as_the_pages(results: Path, tmp_path: Path) -> None:
    out = tmp_path / "summary"
    write_summary(results, REFS, out)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["psnr"] == {"bm3d": 29.35, "noisy": 20.0}  # mean over the entry's scored cells
    assert set(summary["papers"]) == {"p000", "p001", "p002", "p003", "p004"}  # every paper with mapped methods
    pages = tmp_path / "pages"
    write_paper_tables(results, REFS, pages)
    rows = list(csv.DictReader(io.StringIO((out / "reported_vs_reproduced.csv").read_text())))
    for paper, n in summary["papers"].items():
        page = (pages / f"{paper[1:]}.md").read_text(encoding="utf-8")
        assert f"**{n['reproduced']} of {n['cells']}** reported average cells" in page
        assert f"; {n['computed']} computed only" in page and f"; {n['missing']} missing" in page
        assert n["reproduced"] + n["computed"] == sum(r["number"] == paper[1:] for r in rows)
        assert sum(v for k, v in n.items() if k.startswith("class_")) == n["reproduced"] + n["computed"]
    assert summary["papers"]["p003"]["class_classical"] >= 1
    for paper, n in summary["papers"].items():  # one file per paper for `dvc metrics show -R`, the same counts
        assert json.loads((out / "papers" / f"{paper}.json").read_text()) == n
    assert {"reported", "reproduced", "paper", "cell", "evidence", "verdict"} <= set(rows[0])


def test_summary_headline_without_results(tmp_path: Path) -> None:
    (tmp_path / "results").mkdir()
    assert headline([], load_results(tmp_path / "results")) == {"papers": {}, "psnr": {}}


def test_training_curves_in_one_file_name_their_entry_and_paper(results: Path, tmp_path: Path) -> None:
    curves = results / "curves"
    CurveLog(curves / "bm3d.csv")(10, {"loss": 0.5, "lr": 0.001})
    CurveLog(curves / "unscored.csv")(5, {"loss": 0.25})
    write_summary(results, REFS, tmp_path / "summary")
    rows = list(csv.DictReader(io.StringIO((tmp_path / "summary" / "training_curves.csv").read_text())))
    assert rows == [{"paper": "baseline", "entry": "bm3d", "profile": "quick", "step": "10", "loss": "0.5"},
                    {"paper": "?", "entry": "unscored", "profile": "?", "step": "5", "loss": "0.25"}]


def test_curve_log_continues_a_resumed_run_and_restarts_a_new_one(tmp_path: Path) -> None:
    path = tmp_path / "curves" / "e.csv"
    first = CurveLog(path)
    for step in (10, 20, 30):
        first(step, {"loss": 1.0 / step, "lr": 0.001})
    first(31, {})  # a step without logs
    resumed = CurveLog(path)  # interrupted after step 30's checkpoint at 20: steps 30.. are logged again
    resumed(30, {"loss": 0.5, "lr": 0.001})
    resumed(40, {"loss": 0.25, "lr": 0.001})
    rows = list(csv.DictReader(io.StringIO(path.read_text())))
    assert [(r["step"], r["loss"]) for r in rows] == [("10", "0.1"), ("20", "0.05"), ("30", "0.5"), ("40", "0.25")]
    assert list(rows[0]) == ["step", "loss", "lr"]
    restarted = CurveLog(path)
    restarted(5, {"loss": 2.0})
    assert [r["step"] for r in csv.DictReader(io.StringIO(path.read_text()))] == ["5"]
    empty = CurveLog(tmp_path / "none.csv").write()
    assert empty.read_text() == "step,loss\n"

"""Per-paper report figures: the reported-vs-reproduced scatter and the choice of the zoomed comparison's cell."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from denoisebench.imageio import write_image
from denoisebench.papers import Paper
from denoisebench.report_figures import figure_links, scatter_figure, write_paper_figures, zoom_figure, zoom_rows

PAPER = Paper(number="999", key="toy", title="t", seed_file="x", method_map={"A": ("a1", "a2"), "B": ("b",)},
              package="denoisebench.papers.p999_toy")


def _predict(root: Path, entry: str, testset: str, label: str, image: str = "img") -> None:
    folder = root / entry / testset / label
    folder.mkdir(parents=True, exist_ok=True)
    np.save(folder / f"{image}.npy", np.zeros((32, 32, 3), np.float32))


def test_scatter_has_one_point_per_cell(tmp_path: Path) -> None:
    rows = [{"number": "999", "method": "A", "reported": "30.0", "reproduced": "29.5", "profile": "quick",
             "full_test_set": "False"},
            {"number": "999", "method": "B", "reported": "31.0", "reproduced": "31.2", "profile": "quick",
             "full_test_set": "True"},
            {"number": "004", "method": "B", "reported": "1", "reproduced": "2", "profile": "quick"}]
    out = scatter_figure(rows, "999", tmp_path / "s.png")
    assert out is not None and out.read_bytes()[:4] == b"\x89PNG"
    assert scatter_figure(rows, "123", tmp_path / "none.png") is None and not (tmp_path / "none.png").exists()


def test_zoom_takes_the_cell_most_methods_have(tmp_path: Path) -> None:
    _predict(tmp_path, "a2", "kodak24", "awgn_sigma25")
    _predict(tmp_path, "b", "kodak24", "awgn_sigma25")
    _predict(tmp_path, "a1", "cbsd68", "awgn_sigma50")
    _predict(tmp_path, "b", "kodak24_zs", "awgn_sigma25")
    cell, rows = zoom_rows(PAPER, tmp_path)
    assert cell == ("kodak24", "awgn_sigma25") and rows == {"Noisy": "noisy", "A": "a2", "B": "b"}
    assert zoom_rows(PAPER, tmp_path / "empty") == (None, {})
    # a cell the paper reports wins over one more methods ran on
    assert zoom_rows(PAPER, tmp_path, {("cbsd68", "awgn_sigma50")}) == (("cbsd68", "awgn_sigma50"),
                                                                         {"Noisy": "noisy", "A": "a1"})


def test_links_and_figures_of_a_tiny_tree(tmp_path: Path) -> None:
    assert [link for _, link in figure_links(PAPER)] == ["../figures/paper_999_reported_vs_reproduced.png",
                                                         "../figures/paper_999_zoom.png"]
    assert figure_links(Paper(number="001", key="k", title="t", seed_file="x")) == ()
    # no summary CSV and no predictions: nothing to draw, nothing written, no error
    assert write_paper_figures(tmp_path / "results", tmp_path / "noisy", tmp_path / "figures") == []


def test_zoom_figure_of_a_tiny_tree(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    clean = rng.random((32, 32, 3)).astype(np.float32)
    cell = tmp_path / "noisy" / "kodak24" / "awgn_sigma25"
    write_image(cell / "clean" / "img.png", clean)
    (cell / "noisy").mkdir(parents=True)
    np.save(cell / "noisy" / "img.npy", clean + 0.1)
    for entry in ("a2", "b"):
        _predict(tmp_path / "predictions", entry, "kodak24", "awgn_sigma25")
    out = zoom_figure(PAPER, tmp_path / "noisy", tmp_path / "predictions", tmp_path / "scores", tmp_path / "z.png")
    assert out is not None and out.read_bytes()[:4] == b"\x89PNG"
    rows = (tmp_path / "z.csv").read_text().splitlines()
    assert [r.split(",")[1] for r in rows[1:]] == ["noisy", "a2", "b"]

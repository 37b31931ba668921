"""Paper 002 report stage: DuRN-protocol rescoring per task, the 3-task mean, the figure, missing inputs."""

from __future__ import annotations

import numpy as np
import pytest

from denoisebench.imageio import write_image
from denoisebench.papers.p002_durn_mtl.report import TASK_CELLS, build_report, draw_figure, _label


def _write_cell(root, testset: str, noise: str, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    clean = rng.random((32, 32, 3)).astype(np.float32)
    cell = root / "noisy" / testset / _label(noise)
    write_image(cell / "clean" / "img1.png", clean)
    write_image(cell / "noisy" / "img1.png", np.clip(clean + 0.2, 0, 1))
    return clean


def test_report_rescored_means_and_figure(tmp_path) -> None:
    params = {"methods": {"learned": {
        "durn_rbh": {"method": "durn_mtl", "code": "papers/p002_durn_mtl", "layout": "R>B>H"},
        "durn_st_rain": {"method": "durn_mtl", "code": "papers/p002_durn_mtl", "tasks": ["rain"]}}}}
    for i, task in enumerate(("blur", "haze", "rain")):
        cell = TASK_CELLS[task]
        clean = _write_cell(tmp_path, cell.testset, cell.noise, i)
        offset = 0.02 * (i + 1)
        write_image(tmp_path / "pred" / "durn_rbh" / cell.testset / _label(cell.noise) / "img1.png",
                    np.clip(clean + offset, 0, 1))
    text, figure = build_report(params, tmp_path / "noisy", tmp_path / "pred", tmp_path / "scores",
                                tmp_path / "models", tmp_path / "missing.csv")
    row = next(line for line in text.splitlines() if line.startswith("| `R>B>H` | `durn_rbh`"))
    values = [float(c.split(" / ")[0]) for c in row.split(" | ")[2:6]]
    assert values[3] == pytest.approx(np.mean(values[:3]), abs=0.01)  # Table 2: mean of the three task cells
    assert values[0] > values[1] > values[2]  # larger offsets, lower PSNR
    single = next(line for line in text.splitlines() if line.startswith("| Single task (same net): rain-streak"))
    assert "`durn_st_rain`" in single and "—" in single  # declared, not predicted: missing, not an error
    assert "Table 1" in text and "7,023,849" in text
    assert draw_figure(figure, tmp_path / "noisy", tmp_path / "pred", tmp_path / "fig.png")
    assert (tmp_path / "fig.png").is_file()

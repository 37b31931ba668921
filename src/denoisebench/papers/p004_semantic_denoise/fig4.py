"""Fig. 4 analogue of paper 004 (stage ``fig4_004``, ``python stages/paper.py 004 fig4``): the core zoomed
comparison (:mod:`denoisebench.zoom`) with the paper's rows (noisy, CBM3D, DnCNN, separate, joint) and its output
paths; options per profile in params ``fig4_004.<profile>``."""

from __future__ import annotations

from collections.abc import Sequence

from denoisebench import zoom

ROWS = {"Noisy": "noisy", "CBM3D": "bm3d", "DnCNN": "dncnn_color_blind", "Separate": "liu_separate_s25",
        "Joint": "liu_joint_s25"}


def main(argv: Sequence[str] | None = None) -> None:
    zoom.main(argv, section="fig4_004", rows=ROWS, out="reports/paper_004/figures/fig4/fig4.png",
              csv_path="reports/paper_004/fig4/fig4.csv")

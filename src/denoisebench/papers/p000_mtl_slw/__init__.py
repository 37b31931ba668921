"""Paper 000: Xiang, Tang & Zhou, "Multi-task learning with self-learning weight for image denoising".

Code: the DAE (:mod:`.dae`) and CBDNet (:mod:`.cbdnet`) backbones, the task losses (:mod:`.losses`), the
loss weightings of strategy 1 (:mod:`.weighting`), task switching of strategy 2 (:mod:`.switching`), the
multi-task objective (:mod:`.objective`), the methods ``mtl_dae``/``mtl_cbdnet`` (:mod:`.methods`) and the
report stage (:mod:`.report`).
"""

from __future__ import annotations

from typing import Any

from denoisebench.papers import Paper

#: The paper's Table 2 layout: per training-noise group, the test noise spec and row name -> benchmark entry.
#: The report stage renders it; the paper page's extra rows are derived from it.
TABLE2_LAYOUT: dict[str, dict[str, Any]] = {
    "AWGN": {"noise": "awgn:sigma=30", "rows": {
        "Noisy input": "noisy",
        "DAE": "dae_mse_awgn", "DAE-S1": "dae_s1_awgn", "DAE-S2": "dae_s2_awgn",
        "DnCNN": "dncnn_color_blind", "FFDNet": "ffdnet_color", "BM3D": "bm3d"}},
    "HG": {"noise": "hetero_gaussian", "rows": {
        "Noisy input": "noisy",
        "DAE": "dae_mse_hg", "DAE-S1": "dae_s1_hg", "DAE-S1 (loss norm.)": "dae_s1_hg_loss",
        "DAE-S1 (loss+ norm.)": "dae_s1_hg_lossplus", "DAE-S1 (no norm.)": "dae_s1_hg_none",
        "DAE-S1 (uncertainty)": "dae_s1u_hg", "DAE-S1 (equal)": "dae_s1e_hg", "DAE-S2": "dae_s2_hg",
        "DnCNN": "dncnn_color_blind", "FFDNet": "ffdnet_color", "BM3D": "bm3d"}},
    "HG+ISP": {"noise": "cbdnet", "rows": {
        "Noisy input": "noisy",
        "DAE": "dae_mse_isp", "DAE-S1": "dae_s1_isp", "DAE-S2": "dae_s2_isp", "DnCNN": "dncnn_color_blind",
        "FFDNet": "ffdnet_color", "BM3D": "bm3d", "CBDNet": "cbdnet_mse", "CBDNet-S1": "cbdnet_s1",
        "CBDNet-S2": "cbdnet_s2"}},
}


def _rows_by_label(layout: dict[str, dict[str, Any]]) -> dict[str, list[str]]:
    """Row label -> the entries of that row over the layout's groups (first appearance order, no repeats)."""
    rows: dict[str, list[str]] = {}
    for group in layout.values():
        for label, entry in group["rows"].items():
            if entry not in rows.setdefault(label, []):
                rows[label].append(entry)
    return rows


PAPER = Paper(
    number="000",
    key="mtl_slw",
    title="Multi-task learning with self-learning weight for image denoising",
    seed_file="000_b28f9b5a6693140c.txt",
    reported="mtl_slw.csv",
    method_map={
        "Noisy input": "noisy",
        "Traditional DAE": ["dae_mse_awgn", "dae_mse_hg"],
        "Improved DAE": ["dae_s1_awgn", "dae_s1_hg"],
        "CBDNet": "cbdnet_mse",
        "Improved CBDNet": "cbdnet_s2",
    },
    extra_rows=_rows_by_label(TABLE2_LAYOUT),
    code=("methods",),
    networks=("dae", "cbdnet"),
    stages={"report": "report:main"},
    note="Table 2's numbers are missing from the paper text; only the figure-caption values (single unnamed "
         "images) exist, so reproduced averages over test images are not like-for-like comparisons with them.",
    links=(("Table 2 layout, learned-weight trajectories, curves, residual histograms",
            "../paper_000/report/000_mtl.md"),),
)

"""Stage `report_000`: paper 000 (mtl_slw) report: Table 2 layout, learned weights, training curves, residuals.

Reads ``results/metrics/<entry>.json`` (scores), ``models/<entry>/{history,weights}.csv`` (written by the mtl
methods during training; ``weights.csv`` has one row per step), the entries' configs in ``params.yaml``,
``data/noisy/<testset>/<label>/`` and ``results/predictions/<entry>/...`` (residuals).
Writes ``<out>`` (markdown) and its PNG figures beside it (matplotlib, Agg). Missing inputs become "n/a" cells
or skipped figures, never errors, so the report can be built from a partial run.
"""

from __future__ import annotations

import argparse
import json
import os
import math
from pathlib import Path
from typing import Any

import numpy as np

from denoisebench.papers.p000_mtl_slw import TABLE2_LAYOUT

#: Synthetic test sets (clean sources corrupted with the group's noise) and the real-noise sets.
SYN_SETS, REAL_SETS = ("polyu", "cbsd68"), ("polyu", "cc15")
#: Figure values the paper prints (Figs. 3, 4, 6, 8; single unnamed images, PSNR/SSIM), for reference.
PAPER_FIGURES = [
    ("Fig. 3, PolyU, AWGN 30", "noisy 19.16/0.33, DAE 30.17/0.94, improved DAE 32.07/0.98"),
    ("Fig. 4, PolyU, HG", "noisy 22.89/0.51, DAE 30.74/0.95, improved DAE 32.51/0.97"),
    ("Fig. 6, PolyU, HG+ISP", "noisy 26.52/0.79, CBDNet 30.40/0.88, improved CBDNet 30.49/0.92"),
    ("Fig. 8, BSDS500, HG+ISP", "noisy 26.43/0.84, CBDNet 27.81/0.89, improved CBDNet 28.89/0.91"),
]
#: Fractions of the run at which the weights table samples the per-step weights (step 1 and the last step included).
WEIGHT_STEPS = (0.0, 0.25, 0.5, 1.0)
#: Baseline row (plain MSE) of each backbone, for the PSNR difference of the S1 variants.
BASELINES = {"DAE": "DAE", "CBDNet": "CBDNet"}
NOTES = [
    "- **KL sub-task on non-Gaussian noise.** The KL term compares the *standardised* residual e = y - x-hat with "
    "N(0, 1). For a perfect denoiser e is the noise itself: that is N(0, 1) after standardisation only for AWGN. "
    "HG noise has a pixel-dependent variance (a scale mixture of Gaussians: heavier tails than N(0, 1) once "
    "standardised over the image, and clipping at 0 and 1 skews it), and the camera pipeline's noise is further "
    "shaped by the CRF, demosaicing and tone mapping. So on the HG and HG+ISP rows the KL term does not vanish "
    "at the clean image and penalises a perfect denoiser; the row \"True noise (perfect denoiser)\" of the "
    "residual table gives that floor, measured on the test cells. Minimising it pulls the output away from the "
    "clean image (towards residuals that look Gaussian), which is a limitation of the paper's loss as specified "
    "(p = N(0, 1)), not of this implementation.",
    "- **Self-learning weights.** The weights are min-norm (MGDA) weights of the normalised task gradients; "
    "which normalisation (`grad_norm`: `none`, `l2`, `loss`, `loss+` of Sener & Koltun's code) is used decides "
    "where they go. The table above shows them per step and the PSNR that results, per variant; whether S1 beats "
    "the MSE baseline is read from it, not assumed. docs/paper_000.md explains the default (`l2`).",
]


def _label(spec: str) -> str:
    from denoisebench.noise import parse_noise_spec

    return "real" if spec == "real" else parse_noise_spec(spec).label


def _metrics(results: Path, entry: str) -> dict[str, Any]:
    path = results / "metrics" / f"{entry}.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def _cell(metrics: dict[str, Any], testset: str, label: str) -> str:
    cell = metrics.get(testset, {}).get(label)
    return "n/a" if not cell else f"{cell['psnr']:.2f} / {cell['ssim']:.4f}"


def table2(results: Path) -> str:
    """Markdown tables in the layout of the paper's Table 2 (PSNR / SSIM, protocol 'default')."""
    out = []
    for group, spec in TABLE2_LAYOUT.items():
        label = _label(spec["noise"])
        metrics = [_metrics(results, entry) for entry in spec["rows"].values()]
        syn = _sets_with(metrics, label, SYN_SETS)
        real = _sets_with(metrics, "real", REAL_SETS)
        cols = [(s, label, f"{s} ({group})") for s in syn] + [(s, "real", f"{s} (real)") for s in real]
        out.append(f"\n### Trained / tested with {group} (`{spec['noise']}`)\n")
        out.append("| method | entry | " + " | ".join(c[2] for c in cols) + " |")
        out.append("|---|---|" + "---|" * len(cols))
        for name, entry in spec["rows"].items():
            m = _metrics(results, entry)
            out.append(f"| {name} | `{entry}` | " + " | ".join(_cell(m, s, lab) for s, lab, _ in cols) + " |")
    return "\n".join(out)


def _sets_with(metrics: list[dict[str, Any]], label: str, preferred: tuple[str, ...]) -> list[str]:
    """The ``preferred`` test sets, then any other set some row was scored on with noise ``label`` (the demo
    profile's sets have other names)."""
    seen = sorted({testset for m in metrics for testset, cells in m.items() if label in cells})
    return list(preferred) + [t for t in seen if t not in preferred]


def _read_csv(path: Path) -> np.ndarray | None:
    if not path.is_file():
        return None
    data = np.genfromtxt(path, delimiter=",", names=True)
    return np.atleast_1d(data) if data.size else None


def weight_figure(models: Path, out_dir: Path) -> tuple[str, list[str]]:
    """Plot every ``weights.csv`` (one panel per entry); returns the PNG name and markdown lines."""
    import matplotlib.pyplot as plt

    entries = sorted(p.parent.name for p in models.glob("*/weights.csv"))
    if not entries:
        return "", ["No `weights.csv` found (no strategy-1 entry trained yet)."]
    fig, axes = plt.subplots(1, len(entries), figsize=(4 * len(entries), 3), squeeze=False)
    for ax, entry in zip(axes[0], entries):
        data = _read_csv(models / entry / "weights.csv")
        if data is None:
            continue
        for col in (c for c in data.dtype.names if c.startswith("w_")):
            ax.plot(data["step"], data[col], label=col)
        ax.set_title(entry, fontsize=9)
        ax.set_xlabel("step")
        ax.legend(fontsize=7)
    fig.tight_layout()
    name = "000_weights.png"
    fig.savefig(out_dir / name, dpi=100)
    plt.close(fig)
    return name, []


def _entry_weighting(params: dict[str, Any], entry: str) -> tuple[str, str]:
    """(weighting, gradient normalisation) of ``entry`` with the method's defaults filled in; "n/a" if unknown."""
    from denoisebench.config import method_entry
    from denoisebench.errors import ConfigError
    from denoisebench.methods import build_method
    from denoisebench.papers.p000_mtl_slw.weighting import DEFAULT_GRAD_NORM, WEIGHTINGS, MinNormWeighting

    try:
        spec = method_entry(params, entry)
        config = build_method(spec.method, spec.config).params
    except (ConfigError, KeyError):
        return "n/a", "n/a"
    if config.get("strategy") != "s1":
        return str(config.get("strategy", "n/a")), "n/a"
    weighting = config["weighting"]
    if not issubclass(WEIGHTINGS.get(weighting), MinNormWeighting):
        return weighting, "n/a"
    return weighting, str(config["weighting_params"].get("grad_norm", DEFAULT_GRAD_NORM))


def _weights_at(data: np.ndarray, fraction: float) -> str:
    """``w_mse/w_ssim/w_kl`` (other tasks after) at the first logged step >= ``fraction`` of the last step."""
    steps = data["step"]
    target = max(steps[0], fraction * steps[-1])
    row = data[int(np.searchsorted(steps, target))]
    order = [c for c in ("w_mse", "w_ssim", "w_kl") if c in data.dtype.names]
    order += sorted(c for c in data.dtype.names if c.startswith("w_") and c not in order)
    return f"{int(row['step'])}: " + "/".join(f"{row[c]:.2f}" for c in order)


def _psnr_delta(m: dict[str, Any], base: dict[str, Any], testset: str, label: str) -> str:
    cell, ref = m.get(testset, {}).get(label), base.get(testset, {}).get(label)
    if not cell:
        return "n/a"
    delta = f" ({cell['psnr'] - ref['psnr']:+.2f})" if ref else ""
    return f"{cell['psnr']:.2f}{delta} / {cell['ssim']:.3f}"


def weight_table(models: Path, results: Path, params: dict[str, Any]) -> list[str]:
    """Per strategy-1 entry: its weighting and gradient normalisation, the weights at a few steps, and the PSNR /
    SSIM on the synthetic test sets with the PSNR difference to the same backbone's MSE baseline."""
    lines = ["Weights as `w_mse/w_ssim/w_kl` at `step:` (from 1/3 each at step 0; `weights.csv`, one row per "
             "step). PSNR (dB; in brackets the difference to the same backbone's MSE baseline) / SSIM on the "
             "group's training noise.\n",
             "| noise | method | entry | weighting | grad_norm | " + " | ".join(
                 f"w at {int(f * 100)}%" for f in WEIGHT_STEPS) + " | " + " | ".join(SYN_SETS) + " |",
             "|---|---|---|---|---|" + "---|" * (len(WEIGHT_STEPS) + len(SYN_SETS))]
    found = False
    for group, spec in TABLE2_LAYOUT.items():
        label = _label(spec["noise"])
        for name, entry in spec["rows"].items():
            data = _read_csv(models / entry / "weights.csv")
            if data is None or "w_mse" not in data.dtype.names:
                continue
            found = True
            backbone = next((b for b in BASELINES if name.startswith(b)), None)
            base = _metrics(results, spec["rows"].get(BASELINES.get(backbone, ""), "")) if backbone else {}
            m = _metrics(results, entry)
            weighting, grad_norm = _entry_weighting(params, entry)
            lines.append(f"| {group} | {name} | `{entry}` | {weighting} | {grad_norm} | "
                         + " | ".join(_weights_at(data, f) for f in WEIGHT_STEPS) + " | "
                         + " | ".join(_psnr_delta(m, base, t, label) for t in SYN_SETS) + " |")
    return lines if found else ["No `weights.csv` found (no strategy-1 entry trained yet)."]


def curve_figure(models: Path, out_dir: Path) -> tuple[str, list[str]]:
    """MSE training loss and validation PSNR of baseline vs S1 vs S2 per backbone/noise group (paper Fig. 5)."""
    import matplotlib.pyplot as plt

    groups: dict[str, dict[str, str]] = {}
    for group, spec in TABLE2_LAYOUT.items():
        rows = {k: v for k, v in spec["rows"].items() if (models / v / "history.csv").is_file()}
        for backbone in ("DAE", "CBDNet"):
            chosen = {k: v for k, v in rows.items() if k.startswith(backbone)}
            if chosen:
                groups[f"{backbone}, {group}"] = chosen
    if not groups:
        return "", ["No `history.csv` found (no mtl entry trained yet)."]
    fig, axes = plt.subplots(2, len(groups), figsize=(4 * len(groups), 6), squeeze=False)
    lines = ["| group | method | final train MSE | final val PSNR (dB) |", "|---|---|---|---|"]
    for i, (title, rows) in enumerate(groups.items()):
        for name, entry in rows.items():
            data = _read_csv(models / entry / "history.csv")
            if data is None:
                continue
            for row, col in ((0, "mse"), (1, "val_psnr")):
                if col in data.dtype.names:
                    ok = ~np.isnan(data[col])
                    axes[row][i].plot(data["step"][ok], data[col][ok], label=name)
            def final(c: str) -> str:
                if c not in data.dtype.names:
                    return "n/a"
                return next((f"{v:.4g}" for v in data[c][::-1] if not math.isnan(v)), "n/a")

            lines.append(f"| {title} | {name} | {final('mse')} | {final('val_psnr')} |")
        axes[0][i].set_title(title, fontsize=9)
        axes[0][i].set_yscale("log")
        axes[0][i].set_ylabel("train MSE")
        axes[1][i].set_ylabel("val PSNR (dB)")
        axes[1][i].set_xlabel("step")
        axes[0][i].legend(fontsize=7)
    fig.tight_layout()
    name = "000_curves.png"
    fig.savefig(out_dir / name, dpi=100)
    plt.close(fig)
    return name, lines


def _load_image(path: Path) -> np.ndarray:
    from denoisebench.imageio import read_image

    return np.load(path) if path.suffix == ".npy" else read_image(path)


def _true_noise(noisy_cell: Path) -> list[np.ndarray]:
    """The residuals of a perfect denoiser, y - x, for the images of a synthetic cell (its ``clean/`` beside
    ``noisy/``); [] when the cell has no clean images."""
    out = []
    for noisy_path in sorted(noisy_cell.iterdir()):
        clean_path = noisy_cell.parent / "clean" / f"{noisy_path.stem}.png"
        if clean_path.is_file():
            out.append(_load_image(noisy_path).astype(np.float32) - _load_image(clean_path).astype(np.float32))
    return out


def residual_figure(noisy_root: Path, results: Path, out_dir: Path) -> tuple[str, list[str]]:
    """Histograms of the standardised residual e = y - x-hat against N(0, 1), with the KDE-KL of each method."""
    import matplotlib.pyplot as plt
    import torch

    from denoisebench.papers.p000_mtl_slw.losses import kl_to_gaussian, standardize

    panels = []
    for group, spec in TABLE2_LAYOUT.items():
        cell = noisy_root / "polyu" / _label(spec["noise"]) / "noisy"
        if cell.is_dir():
            panels.append((group, spec, cell))
    if not panels:
        return "", ["No synthetic PolyU cells found under the noisy data folder."]
    fig, axes = plt.subplots(1, len(panels), figsize=(4.5 * len(panels), 3.2), squeeze=False)
    grid = np.linspace(-5, 5, 201)
    lines = ["| noise | method | KL(N(0,1) ‖ q(e)) (mean over images) |", "|---|---|---|"]
    for ax, (group, spec, cell) in zip(axes[0], panels):
        ax.plot(grid, np.exp(-grid**2 / 2) / math.sqrt(2 * math.pi), "k--", label="N(0,1)")
        truth = _true_noise(cell)
        if truth:
            kl = [float(kl_to_gaussian(torch.from_numpy(r.transpose(2, 0, 1))[None])) for r in truth]
            lines.append(f"| {group} | True noise (perfect denoiser: e = y - x) | {np.mean(kl):.4f} |")
        for name, entry in spec["rows"].items():
            pred_dir = results / "predictions" / entry / "polyu" / cell.parent.name
            preds = sorted(pred_dir.glob("*.npy")) if pred_dir.is_dir() else []
            if not preds:
                continue
            res = []
            for pred in preds:
                noisy_path = next(iter(sorted(cell.glob(pred.stem + ".*"))), None)
                if noisy_path is not None:
                    res.append(_load_image(noisy_path).astype(np.float32) - np.load(pred).astype(np.float32))
            if not res:
                continue
            kl = [float(kl_to_gaussian(torch.from_numpy(r.transpose(2, 0, 1))[None])) for r in res]
            pooled = np.concatenate([standardize(torch.from_numpy(r)[None]).numpy().ravel() for r in res])
            ax.hist(pooled, bins=100, range=(-5, 5), density=True, histtype="step", label=name)
            lines.append(f"| {group} | {name} | {np.mean(kl):.4f} |")
        ax.set_title(f"residual, PolyU, {group}", fontsize=9)
        ax.set_yscale("log")
        ax.set_ylim(1e-4, 1)
        ax.legend(fontsize=6)
    fig.tight_layout()
    name = "000_residuals.png"
    fig.savefig(out_dir / name, dpi=100)
    plt.close(fig)
    return name, lines


def main(argv: list[str] | None = None) -> None:
    import matplotlib

    matplotlib.use("Agg")
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--results", default="results")
    parser.add_argument("--models", default="models")
    parser.add_argument("--noisy", default="data/noisy")
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--out", default="reports/paper_000/report/000_mtl.md")
    parser.add_argument("--figures", default="reports/paper_000/figures/report",
                        help="folder of the PNG figures (a DVC-cached output; the markdown stays in git)")
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    from denoisebench.config import active_profile, load_params

    params = load_params(args.params) if Path(args.params).is_file() else {}
    profile = active_profile(params) if params else "unknown"
    parts = [
        "# Paper 000: Multi-task learning with self-learning weight (Xiang, Tang & Zhou 2024)\n",
        f"Profile: **{profile}**. A `demo`/`quick` number is not a reproduction of a paper number. PSNR (dB) / SSIM, "
        "RGB, output rounded to uint8, no border, Wang SSIM (protocol `default`). The DAE is a reconstruction "
        "(the paper's layer table is missing); training images are CBSD432 patches standing in for STL-10 (DAE) "
        "and DND (CBDNet); CBSD68 stands in for BSDS500; RENOIR is not run. See docs/paper_000.md.\n",
        "## Table 2 layout\n",
        "The paper's Table 2 (RENOIR results) is **missing from the paper text**: no number of it can be "
        "compared. The only reported values are single-image figure captions:\n",
        *[f"- {where}: {text}" for where, text in PAPER_FIGURES],
        table2(Path(args.results)),
    ]
    figures = Path(args.figures)
    link = Path(os.path.relpath(figures, out.parent)).as_posix()
    figures.mkdir(parents=True, exist_ok=True)
    weights_png, _ = weight_figure(Path(args.models), figures)
    for title, (png, lines) in (
        ("Learned weights (strategy 1): trajectories and resulting PSNR per variant",
         (weights_png, weight_table(Path(args.models), Path(args.results), params))),
        ("Training MSE and validation PSNR: baseline vs S1 vs S2 (paper Fig. 5)", curve_figure(Path(args.models), figures)),
        ("Residuals against the Gaussian", residual_figure(Path(args.noisy), Path(args.results), figures)),
    ):
        parts.append(f"\n## {title}\n")
        if png:
            parts.append(f"![{title}]({link}/{png})\n")
        parts.extend(lines)
    parts.extend(["\n## Notes\n", *NOTES])
    from denoisebench.fsutil import write_text_atomic

    write_text_atomic(out, "\n".join(parts) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    from denoisebench.stage_support import run_stage

    run_stage(main)

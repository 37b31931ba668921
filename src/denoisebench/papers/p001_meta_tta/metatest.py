"""Stage ``metatest_001``: what meta-test does per image (paper 001, Table 2 and Fig. 8 analogues).

For every entry (``--entries``) and every real-noise cell it was predicted on, per test image:
- *before* adaptation = the trained network's forward pass (not clamped, as the official ``validate`` stores it),
  recomputed here from ``models/<entry>/model.pt`` and the cell's noisy image;
- *after* = the entry's prediction (``results/predictions/<entry>/<set>/real/<id>.npy``: predict ran meta-test);
- adaptation seconds and update count = the predict stage's ``timings.csv`` (``train_seconds``, ``iterations``);
- PSNR/SSIM of both under the benchmark's ``default`` protocol (both clipped and rounded), the official code's
  ``ttaid`` scoring (before scored unclamped with ``ttaid_before``, after clamped with ``ttaid``: the official gain)
  and ``ttaid_clamped`` (both clamped: the gain of adaptation alone, without the clamp's share).

The paper's "validation split" protocol (method-specs 4(f)1) is reproduced on ``--val-images`` pairs of the
meta-transfer pool: a 1024 centre crop that zero-pads PolyU's 512-px images (torchvision 0.10's CenterCrop),
scored on the whole padded crop, before and after meta-test. It overlaps the training pool, as the paper's does;
the clean held-out protocol is the PolyU test cell (scenes disjoint from the pool, native 512 px).

Writes ``<out>/per_image.csv``, ``<out>/metatest.md`` (per entry and set: mean before/after, gain mean, spread,
images improved, images past the paper's 0.05 dB threshold) and, under ``<figures>``, ``gain.png`` (per-image gain)
and ``masks.png`` (noisy input beside the binarised mask for two images, the paper's Fig. 8).

    python stages/paper.py 001 metatest [--entries meta_tta,meta_tta_official] [--val-images 2]
"""

from __future__ import annotations

import argparse
import csv
import io
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from denoisebench.fsutil import write_text_atomic

log = logging.getLogger(__name__)

#: Reported protocol -> (protocol scoring "before", protocol scoring "after"). ``ttaid`` is the official validate():
#: the before-adaptation estimate unclamped, the adapted one clamped; ``ttaid_clamped`` clamps both.
PROTOCOL_PAIRS = {"default": ("default", "default"), "ttaid": ("ttaid_before", "ttaid"),
                  "ttaid_clamped": ("ttaid", "ttaid")}
#: The paper's threshold for a contribution (Sec. 4.1).
CONTRIBUTION_DB = 0.05
COLUMNS = ("entry", "testset", "image", "protocol", "psnr_before", "psnr_after", "gain_db", "ssim_before",
           "ssim_after", "adapt_seconds", "updates")


def _options(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="metatest_001", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--entries", default=None, help="comma-separated meta_tta entries (default: params)")
    parser.add_argument("--val-images", type=int, default=None, help="pool pairs for the validation protocol")
    parser.add_argument("--val-crop", type=int, default=1024)
    parser.add_argument("--noisy", default="data/noisy")
    parser.add_argument("--models", default="models")
    parser.add_argument("--predictions", default="results/predictions")
    parser.add_argument("--out", default="reports/paper_001/metatest")
    parser.add_argument("--figures", default="reports/paper_001/figures/metatest")
    args = parser.parse_args(list(argv or []))
    if Path(args.params).is_file():
        from denoisebench.config import active_profile, load_params

        params = load_params(args.params)
        section = (params.get("metatest_001") or {}).get(active_profile(params)) or {}
        args.entries = args.entries or ",".join(section.get("entries", []))
        args.val_images = section.get("val_images", 0) if args.val_images is None else args.val_images
        args.profile = active_profile(params)
    else:
        args.profile = "unknown"
    args.entries = [e for e in (args.entries or "meta_tta_official").split(",") if e]
    args.val_images = args.val_images or 0
    return args


def _load(entry: str, models: Path) -> Any:
    from denoisebench.methods import build_method

    method = build_method("meta_tta", {})
    method.load(models / entry / "model.pt")
    return method


def _forward(method: Any, noisy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(estimate before adaptation, unclamped as the official code keeps it; binarised mask) of one image."""
    import torch

    x = torch.from_numpy(np.ascontiguousarray(noisy.transpose(2, 0, 1))[None])
    model = method._model.cpu()
    with torch.inference_mode():
        out = model.net(x)[0][0].numpy().transpose(1, 2, 0)
        mask = (model.mask(x) > 0.5).float()[0, 0].numpy()
    return out, mask


def checkpoint_selection(model_pt: Path) -> dict[str, Any]:
    """The rule that chose the weights of a ``model.pt`` (``summary.selection``; ``last`` when absent)."""
    import torch

    summary = torch.load(model_pt, map_location="cpu", weights_only=True).get("summary") or {}
    return summary.get("selection") or {"rule": "last"}


def _timings(path: Path) -> dict[str, dict[str, str]]:
    if not path.is_file():
        return {}
    with path.open(newline="", encoding="utf-8") as handle:
        return {row["image"]: row for row in csv.DictReader(handle)}


def _scores(clean: np.ndarray, before: np.ndarray, after: np.ndarray) -> dict[str, dict[str, float]]:
    from denoisebench.metrics import PROTOCOLS, evaluate_pair

    return {name: {"before": evaluate_pair(clean, before, PROTOCOLS[b]), "after": evaluate_pair(clean, after, PROTOCOLS[a])}
            for name, (b, a) in PROTOCOL_PAIRS.items()}


def _rows(entry: str, testset: str, image: str, scores: dict, seconds: Any, updates: Any) -> list[dict[str, Any]]:
    return [{"entry": entry, "testset": testset, "image": image, "protocol": name,
             "psnr_before": s["before"]["psnr"], "psnr_after": s["after"]["psnr"],
             "gain_db": s["after"]["psnr"] - s["before"]["psnr"], "ssim_before": s["before"]["ssim"],
             "ssim_after": s["after"]["ssim"], "adapt_seconds": seconds, "updates": updates}
            for name, s in scores.items()]


def real_cells(entry: str, noisy_root: Path, predictions: Path) -> list[tuple[str, Path, Path]]:
    """(test set, synthesized real-noise cell, prediction folder) of every real cell ``entry`` was predicted on."""
    root = predictions / entry
    return [(cell.parent.name, noisy_root / cell.parent.name / "real", cell)
            for cell in sorted(root.glob("*/real")) if (noisy_root / cell.parent.name / "real").is_dir()]


def center_crop_padded(image: np.ndarray, size: int) -> np.ndarray:
    """torchvision 0.10 ``CenterCrop(size)``: zero-pads a smaller image symmetrically, then crops the centre."""
    h, w = image.shape[:2]
    pad_h, pad_w = max(size - h, 0), max(size - w, 0)
    padded = np.pad(image, ((pad_h // 2, pad_h - pad_h // 2), (pad_w // 2, pad_w - pad_w // 2), (0, 0)))
    top, left = (padded.shape[0] - size) // 2, (padded.shape[1] - size) // 2
    return padded[top:top + size, left:left + size]


def main(argv: Sequence[str] | None = None) -> None:
    from denoisebench.imageio import read_image
    from denoisebench.synthesis import read_manifest

    args = _options(argv)
    rows: list[dict[str, Any]] = []
    masks: list[tuple[str, np.ndarray, np.ndarray]] = []
    selections: dict[str, dict[str, Any]] = {}
    for entry in args.entries:
        if not (Path(args.models) / entry / "model.pt").is_file():
            log.warning("metatest_001: %s has no model (models/%s/model.pt); skipped", entry, entry)
            continue
        method = _load(entry, Path(args.models))
        selections[entry] = checkpoint_selection(Path(args.models) / entry / "model.pt")
        for testset, cell_dir, pred_dir in real_cells(entry, Path(args.noisy), Path(args.predictions)):
            timings = _timings(pred_dir / "timings.csv")
            for record in read_manifest(cell_dir)["images"]:
                after_path = pred_dir / f"{record['id']}.npy"
                if not after_path.is_file():
                    continue
                noisy = read_image(cell_dir / "noisy" / record["noisy_file"])
                clean = read_image(cell_dir / "clean" / f"{record['id']}.png")
                before, mask = _forward(method, noisy)
                after = np.clip(read_image(after_path), 0, 1)
                t = timings.get(record["id"], {})
                rows += _rows(entry, testset, record["id"], _scores(clean, before, after), t.get("train_seconds"),
                              t.get("iterations"))
                if len(masks) < 2 and entry == args.entries[0] and min(noisy.shape[:2]) >= 128:
                    masks.append((f"{testset}/{record['id']}", np.clip(noisy, 0, 1), mask))
        rows += _validation_rows(entry, method, args)
        del method
    args.selections = selections
    _write(rows, masks, args)


def _validation_rows(entry: str, method: Any, args: argparse.Namespace) -> list[dict[str, Any]]:
    """The paper's validation protocol on the first ``val_images`` pairs of the entry's stage-2 pool."""
    if not args.val_images:
        return []
    from denoisebench.config import active_profile, data_root, load_params
    from denoisebench.datasets import list_samples
    from denoisebench.methods.base import DenoiseContext
    from denoisebench.papers.p001_meta_tta.schedule import MetaSchedule

    params = load_params(args.params)
    schedule = MetaSchedule.from_dict({k: v for k, v in params["train"][entry][active_profile(params)].items()
                                       if k not in ("dataset", "split", "limit_images")})
    rows: list[dict[str, Any]] = []
    for name, split in schedule.pool_sets():
        if name == "synthetic":
            continue
        for sample in list_samples(name, data_root(params), split=split, limit=args.val_images):
            noisy = center_crop_padded(sample.noisy(), args.val_crop)
            clean = center_crop_padded(sample.clean(), args.val_crop)
            before, _ = _forward(method, noisy)
            context = DenoiseContext(device="cpu")
            after = method.denoise(noisy, context)
            info = context.extra.get("zeroshot", {})
            rows += _rows(entry, f"val_{name}_pad{args.val_crop}", sample.id, _scores(clean, before, after),
                          info.get("train_seconds"), info.get("iterations"))
    return rows


def summarise(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per (entry, test set, protocol): images, mean before/after, gain mean/std/min/max, improved, past 0.05 dB."""
    groups: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault((row["entry"], row["testset"], row["protocol"]), []).append(row)
    out = []
    for (entry, testset, protocol), group in groups.items():
        gain = np.array([r["gain_db"] for r in group], dtype=float)
        secs = [float(r["adapt_seconds"]) for r in group if r["adapt_seconds"] not in (None, "")]
        out.append({"entry": entry, "testset": testset, "protocol": protocol, "n": len(group),
                    "psnr_before": float(np.mean([r["psnr_before"] for r in group])),
                    "psnr_after": float(np.mean([r["psnr_after"] for r in group])),
                    "ssim_before": float(np.mean([r["ssim_before"] for r in group])),
                    "ssim_after": float(np.mean([r["ssim_after"] for r in group])),
                    "gain_mean": float(gain.mean()), "gain_std": float(gain.std()), "gain_min": float(gain.min()),
                    "gain_max": float(gain.max()), "improved": int((gain > 0).sum()),
                    "past_threshold": int((gain >= CONTRIBUTION_DB).sum()),
                    "adapt_seconds": float(np.mean(secs)) if secs else float("nan")})
    return out


#: Paper rows (reported method, reported test set) -> (entry, result set prefix, before|after). Nam is stood in for
#: by CC15 (15 crops of Nam's images), the paper's validation split by the zero-padded PolyU-pool protocol.
COMPARISON = (
    ("Ours without meta-testing", "meta_tta_official", "before"),
    ("Ours with meta-testing", "meta_tta_official", "after"),
    ("MAXL + MTL, aux loss MRL (masked rec.)", "meta_tta_official", "after"),
)
STAND_INS = {"nam": "cc15", "sidd_small_polyu_val_split": "val_polyu_pad"}


def paper_comparison(summary: Sequence[dict[str, Any]], profile: str) -> list[str]:
    """Markdown lines: Table 2/3 rows of the paper beside the reproduced means (official ``ttaid`` protocol)."""
    from denoisebench.papers import find_paper
    from denoisebench.references import read_reference_csv

    paper = find_paper("001")
    reported = read_reference_csv(paper.reported_path("references")).to_dict("records")
    lines = ["", f"## Paper (Tables 2-3) beside this run [{profile}]", "",
             ("Reproduced = mean over the set under the `ttaid` protocol (the code's metric). Nam -> CC15 "
             "(crops of Nam's images, 512 px, not the paper's 1024 centre crops); validation split -> the "
             "zero-padded 1024 crops of the PolyU pool (SIDD-Small is not offline)."), "",
             ("| paper row | paper set | paper PSNR | paper SSIM | entry | set | reproduced PSNR | reproduced SSIM | "
             "diff PSNR |"), "|---|---|---:|---:|---|---|---:|---:|---:|"]
    for method, entry, when in COMPARISON:
        for testset, stand_in in STAND_INS.items():
            cells = {r["metric"]: float(r["value"]) for r in reported
                     if r["method"] == method and r.get("testset") == testset and r["metric"] in ("psnr", "ssim")}
            match = next((s for s in summary if s["entry"] == entry and s["protocol"] == "ttaid"
                          and s["testset"].startswith(stand_in)), None)
            if not cells:
                continue
            psnr = match[f"psnr_{when}"] if match else None
            ssim = match[f"ssim_{when}"] if match else None
            diff = f"{psnr - cells['psnr']:+.2f}" if psnr is not None and "psnr" in cells else "n/a"
            lines.append(f"| {method} | {testset} | {cells.get('psnr', float('nan')):.4f} | "
                         f"{cells.get('ssim', float('nan')):.4f} | `{entry}` ({when} meta-test) | "
                         f"{match['testset'] if match else 'n/a'} | {'n/a' if psnr is None else f'{psnr:.4f}'} | "
                         f"{'n/a' if ssim is None else f'{ssim:.4f}'} | {diff} [{profile}] |")
    return lines


def _write(rows: list[dict[str, Any]], masks: list, args: argparse.Namespace) -> None:
    out, figures = Path(args.out), Path(args.figures)
    out.mkdir(parents=True, exist_ok=True)
    figures.mkdir(parents=True, exist_ok=True)
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(COLUMNS), lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: f"{v:.4f}" if isinstance(v, float) else v for k, v in row.items()})
    write_text_atomic(out / "per_image.csv", buf.getvalue())
    lines = [f"# Paper 001: meta-test per image [{args.profile}]", "",
             ("Before = the trained network's forward pass; after = meta-test (the entry's prediction). Gain = "
             f"after - before PSNR per image; the paper counts +{CONTRIBUTION_DB} dB as a contribution. "
             "`val_*_pad1024` rows: the paper's validation protocol (pool images, zero-padded 1024 centre crop, "
             "overlapping the training pool); `polyu` is the clean held-out protocol (test scenes, native 512 px); "
             "`cc15` stands in for Nam. Protocols: `default` (uint8-rounded, Wang SSIM), `ttaid` (the official "
             "code's validate(): float, skimage uniform-7x7 SSIM; before scored unclamped, after clamped to [0,1], "
             "so its gain includes the clamp's share), `ttaid_clamped` (both clamped: adaptation alone)."), "",
             ("| entry | set | protocol | n | PSNR before | PSNR after | gain mean | gain std | min | max | improved | "
             f">= {CONTRIBUTION_DB} dB | SSIM before | SSIM after | adapt s/img |"),
             "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for s in summarise(rows):
        lines.append(f"| `{s['entry']}` | {s['testset']} | {s['protocol']} | {s['n']} | {s['psnr_before']:.3f} | "
                     f"{s['psnr_after']:.3f} | {s['gain_mean']:+.4f} | {s['gain_std']:.4f} | {s['gain_min']:+.4f} | "
                     f"{s['gain_max']:+.4f} | {s['improved']}/{s['n']} | {s['past_threshold']}/{s['n']} | "
                     f"{s['ssim_before']:.4f} | {s['ssim_after']:.4f} | {s['adapt_seconds']:.2f} |")
    if not rows:
        lines.append("\n(no predictions of the entries on real-noise cells: run their predict stages first)")
    lines += ["", "Checkpoint each entry was scored with (`select` of its schedule): " + "; ".join(
        f"`{e}`: {sel['rule']}" + (f" (best step {sel['best_step']}, PSNR {sel['best_psnr']:.3f} on "
                                  f"{sel['images']} pool crops)" if sel["rule"] == "official" else " (final weights)")
        for e, sel in getattr(args, "selections", {}).items())]
    lines += paper_comparison(summarise(rows), args.profile)
    write_text_atomic(out / "metatest.md", "\n".join(lines) + "\n")
    _figures(rows, masks, figures)


def _figures(rows: list[dict[str, Any]], masks: list, figures: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from denoisebench.fsutil import atomic_path

    default = [r for r in rows if r["protocol"] == "default"]
    fig, ax = plt.subplots(figsize=(8, 3.2))
    entries = list(dict.fromkeys(r["entry"] for r in default))
    for k, entry in enumerate(entries):
        gains = [r["gain_db"] for r in default if r["entry"] == entry]
        ax.bar(np.arange(len(gains)) + k * 0.8 / max(len(entries), 1), gains, width=0.8 / max(len(entries), 1),
               label=entry)
    ax.axhline(CONTRIBUTION_DB, color="grey", linestyle="--", linewidth=0.8, label="paper's 0.05 dB")
    ax.axhline(0, color="black", linewidth=0.6)
    ax.set_xlabel("test image (per entry, in result order)")
    ax.set_ylabel("PSNR after - before (dB)")
    ax.set_title("Meta-test gain per image")
    if entries:
        ax.legend(fontsize=7)
    fig.tight_layout()
    with atomic_path(figures / "gain.png") as tmp:
        fig.savefig(tmp, format="png", dpi=110)
    plt.close(fig)
    fig, axes = plt.subplots(max(len(masks), 1), 2, figsize=(6, 3 * max(len(masks), 1)), squeeze=False)
    for (name, noisy, mask), row in zip(masks, axes):
        row[0].imshow(noisy)
        row[0].set_title(f"noisy {name}", fontsize=8)
        row[1].imshow(mask, cmap="gray", vmin=0, vmax=1)
        row[1].set_title("mask (binarised at 0.5)", fontsize=8)
    for ax in axes.ravel():
        ax.axis("off")
    fig.tight_layout()
    with atomic_path(figures / "masks.png") as tmp:
        fig.savefig(tmp, format="png", dpi=110)
    plt.close(fig)

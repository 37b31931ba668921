"""Ablation grid of Blind2Grad (paper 003, Figs. 13a/13b) on a few centre crops of a test set.

Grids (``--grid``, comma-separated):
    mask_tstandout  {dual, bernoulli, uniform} x {T-standout on, off}: the DM / BM / UM (+D) curves of Fig. 13a
                    (6 runs).
    omega           omega in {0.2, 0.5, 0.8, 1.0} with the base config otherwise (Fig. 13b, 4 runs).

Every run starts from the base config (``--base``, JSON, validated by the method: an unknown key or a bad value
raises ``ConfigError`` naming it and the valid choices), applies only the grid's keys, and denoises the same noisy
crops with the same per-image seed. Two runs whose resolved configs are identical (``omega=0.8`` and ``DM+D`` with
the default base) are run once and the second row says ``same_as``.

Noise: AWGN ``sigma``, not clipped, on centre crops made exactly as the synthesize stage makes a crop cell
(:func:`denoisebench.probes.probe_pairs`: crop, then noise with the seed ``derive_seed(dataset, image id,
"awgn_sigma<sigma>", seed)``), so a crop's noisy input is byte-identical to the pipeline's. Scores: the default protocol
(``denoisebench.metrics``: RGB, output clipped and rounded to uint8, no border, Wang SSIM).

Option defaults come from ``params.yaml`` ``ablation_003.<active profile>`` when ``--params`` exists (as
the Fig. 7 stage), so ``python stages/paper.py 003 ablation`` alone serves every profile; flags still win.

Writes ``--csv`` (one row per run: grid, variant, changes, images, psnr, ssim, seconds_per_image, same_as) and
``--out`` (markdown: one table per grid, the setting, and the paper's claims against what was measured), both
atomically.

    python stages/paper.py 003 ablation --images 1 --size 96 --sigma 25 --dataset kodak24 --data-root data/raw \
        --base '{"cycles": 2, "iterations": 40, "lr": 0.001, "n_avg": 8, "n_avg_cycle": 4}' \
        --grid mask_tstandout,omega --csv results/zeroshot/ablation_003.csv --out reports/paper_003/ablation.md
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from denoisebench.validation import SEED, SIGMA, arg_type

METHOD = "blind2grad"
CSV_FIELDS = ["grid", "variant", "changes", "images", "psnr", "ssim", "seconds_per_image", "same_as"]


@dataclass(frozen=True)
class Variant:
    """One run of a grid: a label (the paper's notation) and the config keys it sets over the base."""

    label: str
    changes: dict[str, Any] = field(hash=False)


#: The grids; the first variant of each is the paper's own setting (the reference for the delta column).
GRIDS: dict[str, tuple[str, list[Variant]]] = {
    "mask_tstandout": (
        "Fig. 13a: mask type (DM dual, BM Bernoulli, UM uniform pixel) with (+D) and without T-standout",
        [Variant(f"{short}{'+D' if ts else ''}", {"mask": mask, "tstandout": ts})
         for mask, short in (("dual", "DM"), ("bernoulli", "BM"), ("uniform", "UM")) for ts in (True, False)],
    ),
    "omega": (
        "Fig. 13b: gradient-regularisation weight omega (eq. 3.9), base config otherwise",
        [Variant(f"omega={w:.1f}", {"omega": w}) for w in (0.8, 0.2, 0.5, 1.0)],
    ),
}
#: Display order of the omega grid (ascending), independent of the run order above.
OMEGA_ORDER = [0.2, 0.5, 0.8, 1.0]


@dataclass
class Crop:
    """One test crop: image id, clean and noisy float32 (H, W, C) arrays, and the per-image seed."""

    id: str
    clean: np.ndarray
    noisy: np.ndarray
    seed: int


def parse_grids(text: str) -> list[str]:
    """Grid names from ``a,b``; an unknown or empty name raises ConfigError listing the valid ones."""
    from denoisebench.errors import ConfigError

    names = [n.strip() for n in text.split(",")]
    if not text.strip() or any(not n for n in names):
        raise ConfigError(f"--grid {text!r}: give one or more comma-separated grid names; valid grids: "
                          f"{', '.join(GRIDS)}")
    unknown = [n for n in names if n not in GRIDS]
    if unknown:
        raise ConfigError(f"--grid: unknown ablation grid(s) {unknown}; valid grids: {', '.join(GRIDS)}")
    return list(dict.fromkeys(names))


def parse_base(text: str) -> dict[str, Any]:
    """The base config (JSON object), validated by building the method (unknown keys / bad values raise)."""
    from denoisebench.errors import ConfigError

    try:
        base = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"--base is not valid JSON ({exc}): {text!r}") from None
    if not isinstance(base, dict):
        raise ConfigError(f"--base must be a JSON object of {METHOD} config keys, got {type(base).__name__}")
    try:
        build(base)  # names the bad key and the valid keys / values
    except ConfigError as exc:
        raise ConfigError(f"--base: {exc}") from None
    return base


def build(config: dict[str, Any]) -> Any:
    from denoisebench.methods import build_method

    return build_method(METHOD, config)


def resolved(method: Any) -> dict[str, Any]:
    """The method's full validated parameters (defaults and variant values filled in)."""
    return dict(method.params)


def make_crops(dataset: str, root: str, count: int, size: int, sigma: float, seed: int) -> list[Crop]:
    """Clean/noisy centre crops made exactly as the synthesize stage makes a crop cell (crop, then AWGN with the
    pipeline's per-image seed of the label ``awgn_sigma<sigma>``): :func:`denoisebench.probes.probe_pairs`."""
    from denoisebench.errors import ConfigError
    from denoisebench.probes import probe_pairs

    pairs = probe_pairs(dataset, f"awgn:sigma={sigma:g}", root, limit=count, crop=size or None, seed=seed)
    if len(pairs) < count:
        raise ConfigError(f"--images {count}: dataset {dataset!r} has only {len(pairs)} image(s)")
    return [Crop(p.source_id, p.clean, p.noisy, int(p.seed)) for p in pairs]


def run_grids(grids: list[str], base: dict[str, Any], crops: list[Crop], sigma: float, device: str,
              log: Any = print) -> list[dict[str, Any]]:
    """Run every variant of ``grids`` on ``crops``; returns one row per variant (see ``CSV_FIELDS``)."""
    from denoisebench.methods import DenoiseContext
    from denoisebench.metrics import evaluate_pair

    methods = {}
    for grid in grids:  # build (and so validate) every configuration before the first, slow, run
        for v in GRIDS[grid][1]:
            methods[(grid, v.label)] = build({**base, **v.changes})
    done: dict[str, dict[str, Any]] = {}  # resolved config -> its row, to skip identical reruns
    rows: list[dict[str, Any]] = []
    for grid in grids:
        for v in GRIDS[grid][1]:
            method = methods[(grid, v.label)]
            key = json.dumps(resolved(method), sort_keys=True, default=str)
            row = {"grid": grid, "variant": v.label, "changes": json.dumps(v.changes, sort_keys=True),
                   "images": len(crops), "same_as": ""}
            if key in done:
                prev = done[key]
                row.update(psnr=prev["psnr"], ssim=prev["ssim"], seconds_per_image=prev["seconds_per_image"],
                           same_as=f"{prev['grid']}/{prev['variant']}")
                rows.append(row)
                log(f"{grid} {v.label}: identical config to {row['same_as']}, not rerun")
                continue
            scores, seconds = [], []
            for crop in crops:
                context = DenoiseContext(sigma=sigma, seed=crop.seed, device=device)
                start = time.perf_counter()
                out = method.denoise(crop.noisy, context)
                seconds.append(time.perf_counter() - start)
                scores.append(evaluate_pair(crop.clean, out))
                log(f"{grid} {v.label} {crop.id}: {scores[-1]['psnr']:.2f} dB, SSIM {scores[-1]['ssim']:.4f}, "
                    f"{seconds[-1]:.1f} s")
            row.update(psnr=float(np.mean([s["psnr"] for s in scores])),
                       ssim=float(np.mean([s["ssim"] for s in scores])),
                       seconds_per_image=float(np.mean(seconds)))
            done[key] = row
            rows.append(row)
    return rows


# ---------------------------------------------------------------------------------------------------------------
# Outputs


def csv_text(rows: list[dict[str, Any]]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=CSV_FIELDS, lineterminator="\n")
    writer.writeheader()
    for r in rows:
        writer.writerow({**r, "psnr": f"{r['psnr']:.4f}", "ssim": f"{r['ssim']:.4f}",
                         "seconds_per_image": f"{r['seconds_per_image']:.2f}"})
    return buf.getvalue()


def _by_label(rows: list[dict[str, Any]], grid: str) -> dict[str, dict[str, Any]]:
    return {r["variant"]: r for r in rows if r["grid"] == grid}


def claims(rows: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """(paper claim, verdict on this run) pairs; PSNR decides, as in the paper's Fig. 13 curves."""
    out: list[tuple[str, str]] = []
    m = _by_label(rows, "mask_tstandout")
    if m:
        p = {k: r["psnr"] for k, r in m.items()}
        wins = [ts for ts in ("+D", "") if p[f"DM{ts}"] > max(p[f"BM{ts}"], p[f"UM{ts}"])]
        verdict = {2: "**agrees**", 1: "**partly**", 0: "**disagrees**"}[len(wins)]
        out.append((
            "Dual mask best: DM beats BM and UM, with and without T-standout (Fig. 13a)",
            (f"{verdict}: with T-standout DM+D {p['DM+D']:.2f} / BM+D {p['BM+D']:.2f} / UM+D {p['UM+D']:.2f} dB; "
            f"without DM {p['DM']:.2f} / BM {p['BM']:.2f} / UM {p['UM']:.2f} dB"),
        ))
        best = max(p, key=p.get)
        out.append((
            "DM+D (the full method) is the best of the six",
            f"**{'agrees' if best == 'DM+D' else 'disagrees'}**: best is {best} ({p[best]:.2f} dB)",
        ))
        d = p["DM+D"] - p["DM"]
        others = ", ".join(f"{k} {p[k + '+D'] - p[k]:+.2f} dB" for k in ("BM", "UM"))
        out.append((
            "T-standout helps the dual mask (DM+D > DM)",
            (f"**{'agrees' if d > 0 else 'disagrees'}**: DM+D - DM = {d:+.2f} dB (for reference, +D - no D: {others}; "
            "the paper calls UM+D \"severely restrained\")"),
        ))
    else:
        out.append(("Dual mask best / T-standout helps (Fig. 13a)", "not run (grid `mask_tstandout`)"))
    o = _by_label(rows, "omega")
    if o:
        p = {w: o[f"omega={w:.1f}"]["psnr"] for w in OMEGA_ORDER}
        best = max(p, key=p.get)
        curve = " / ".join(f"{w:g}: {p[w]:.2f}" for w in OMEGA_ORDER)
        out.append((
            "omega = 0.8 best for synthetic noise; PSNR rises then falls with omega (Fig. 13b)",
            f"**{'agrees' if best == 0.8 else 'disagrees'}**: best omega = {best:g} (PSNR {curve} dB)",
        ))
    else:
        out.append(("omega = 0.8 best for synthetic noise (Fig. 13b)", "not run (grid `omega`)"))
    return out


def markdown(rows: list[dict[str, Any]], grids: list[str], setting: dict[str, Any]) -> str:
    s = setting
    lines = [
        "# Blind2Grad (paper 003) ablation: Figs. 13a / 13b on a short schedule",
        "",
        ("> **Warning: this is a short CPU schedule on a few small crops, not the paper's setting (Set9, full images, "
        "3 x 3000 Adam steps at lr 2e-5, 40 passes). Absolute PSNR/SSIM values are far below the paper's; only the "
        "ordering of the variants is informative, and with this few images even that is noisy.**"),
        "",
        f"- Images: the first {s['images']} of `{s['dataset']}` ({', '.join(s['ids'])}), "
        + (f"centre crops {s['size']} x {s['size']}" if s["size"] else "whole images"),
        (f"- Noise: AWGN sigma = {s['sigma']:g} (0-255), not clipped, per-image seed derive_seed(dataset, id, "
        f"`{s['noise_label']}`, {s['seed']}) drawn on the whole image; noisy input {s['noisy_psnr']:.2f} dB / "
        f"SSIM {s['noisy_ssim']:.4f}"),
        f"- Base config (`--base`): `{json.dumps(s['base'], sort_keys=True)}`",
        (f"- Base schedule: {s['cycles']} cycles x {s['iterations']} Adam steps, lr {s['lr']:g}, output = mean of "
        f"{s['n_avg']} passes ({s['n_avg_cycle']} for each cycle's estimate); mask {s['mask']}, T-standout "
        f"{'on' if s['tstandout'] else 'off'}, omega {s['omega']:g}, gamma {s['gamma']:g}"),
        (f"- Scores: default protocol ({s['protocol']}); device {s['device']}, {s['threads']} thread(s); "
        f"wall time {s['wall_seconds']:.0f} s"),
        "",
    ]
    for grid in grids:
        title, variants = GRIDS[grid]
        by = _by_label(rows, grid)
        order = [f"omega={w:.1f}" for w in OMEGA_ORDER] if grid == "omega" else [v.label for v in variants]
        ref = variants[0].label
        best = max(by.values(), key=lambda r: r["psnr"])["variant"]
        lines += [f"## `{grid}`: {title}", "",
                  f"| variant | changes | PSNR (dB) | SSIM | PSNR - {ref} | s / image |",
                  "|---|---|---|---|---|---|"]
        for label in order:
            r = by[label]
            changes = ", ".join(f"{k}={json.dumps(v)}" for k, v in json.loads(r["changes"]).items())
            psnr = f"{r['psnr']:.2f}"
            note = f" (= {r['same_as']}, not rerun)" if r["same_as"] else ""
            lines.append(f"| {label} | {changes} | {'**' + psnr + '**' if label == best else psnr} | "
                         f"{r['ssim']:.4f} | {r['psnr'] - by[ref]['psnr']:+.2f} | "
                         f"{r['seconds_per_image']:.1f}{note} |")
        lines.append("")
    lines += ["## The paper's claims against this run", "",
              "| paper (Set9, Fig. 13) | this run |", "|---|---|"]
    lines += [f"| {claim} | {verdict} |" for claim, verdict in claims(rows)]
    lines += ["", ("Paper's labels: DM dual mask, BM Bernoulli mask, UM uniform pixel selection, +D with T-standout "
              "(without it the layer is removed: no dropout at all). Best PSNR of each grid in bold. A verdict compares "
              "mean PSNR only (no significance test): on a few crops, differences of a few tenths of a dB may not "
              "survive another seed or image."), ""]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> list[dict[str, Any]]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="kodak24")
    parser.add_argument("--data-root", "--root", dest="root", default="data/raw",
                        help="data root holding the fetched dataset")
    parser.add_argument("--images", type=int, default=1, help="the first N images of the dataset")
    parser.add_argument("--size", type=int, default=96, help="centre crop size (0: whole image)")
    parser.add_argument("--sigma", type=arg_type(SIGMA, "--sigma"), default=25.0)
    parser.add_argument("--seed", type=arg_type(SEED, "--seed"), default=0,
                        help="base seed of derive_seed (noise and method)")
    parser.add_argument("--base", default='{"cycles": 2, "iterations": 40, "lr": 0.001, "n_avg": 8, "n_avg_cycle": 4}',
                        help=f"{METHOD} base config (JSON object); each grid changes only its own keys")
    parser.add_argument("--grid", default="mask_tstandout,omega", help=f"comma-separated: {', '.join(GRIDS)}")
    parser.add_argument("--device", default="cpu", help="cpu, cuda or auto (cuda when available)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--csv", default="reports/paper_003/ablation/ablation_003.csv")
    parser.add_argument("--out", default="reports/paper_003/ablation/ablation.md")
    parser.add_argument("--params", default="params.yaml",
                        help="params file whose ablation_003.<profile> section sets the defaults of these options "
                             "(skipped when the file does not exist); flags given here still win")
    argv = list(argv) if argv is not None else None
    if Path(parser.parse_known_args(argv)[0].params).is_file():
        from denoisebench.stage_support import apply_profile_defaults

        apply_profile_defaults(parser, "ablation_003", argv)
    args = parser.parse_args(argv)
    from denoisebench.stage_support import resolve_device

    args.device = resolve_device(args.device)

    from denoisebench.errors import ConfigError
    from denoisebench.fsutil import write_text_atomic
    from denoisebench.metrics import DEFAULT_PROTOCOL, evaluate_pair
    from denoisebench.noise import parse_noise_spec

    grids = parse_grids(args.grid)
    base = parse_base(args.base)
    if args.images < 1:
        raise ConfigError(f"--images must be >= 1, got {args.images}")
    if args.size < 0:
        raise ConfigError(f"--size must be >= 0 (0: whole image), got {args.size}")
    if args.threads < 1:
        raise ConfigError(f"--threads must be >= 1, got {args.threads}")
    import torch

    torch.set_num_threads(args.threads)
    start = time.perf_counter()
    crops = make_crops(args.dataset, args.root, args.images, args.size, args.sigma, args.seed)
    rows = run_grids(grids, base, crops, args.sigma, args.device)
    noisy = [evaluate_pair(c.clean, c.noisy) for c in crops]
    p = resolved(build(base))
    setting = {
        "dataset": args.dataset, "images": len(crops), "ids": [c.id for c in crops], "size": args.size,
        "sigma": args.sigma, "seed": args.seed, "noise_label": parse_noise_spec(f"awgn:sigma={args.sigma:g}").label,
        "noisy_psnr": float(np.mean([n["psnr"] for n in noisy])),
        "noisy_ssim": float(np.mean([n["ssim"] for n in noisy])),
        "base": base, **{k: p[k] for k in ("cycles", "iterations", "lr", "n_avg", "n_avg_cycle", "mask",
                                          "tstandout", "omega", "gamma")},
        "protocol": DEFAULT_PROTOCOL.describe(), "device": args.device, "threads": args.threads,
        "wall_seconds": time.perf_counter() - start,
    }
    write_text_atomic(args.csv, csv_text(rows))
    write_text_atomic(args.out, markdown(rows, grids, setting))
    print(f"wrote {args.csv} and {args.out} ({setting['wall_seconds']:.0f} s)")
    return rows


if __name__ == "__main__":
    from denoisebench.stage_support import run_stage

    run_stage(main)

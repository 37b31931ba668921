"""Fig. 7 analogue of Blind2Grad (paper 003): PSNR against per-image time for Blind2Grad at several iteration
counts and for the zero-shot baselines (ZS-N2N, Self2Self) and BM3D, on a few crops of a test set.

Blind2Grad is trained once per image; its intermediate estimates (``snapshot_at``) give the curve, each point's
time being the training time up to that iteration plus the time of its own averaged prediction. Baselines give
one point each. Noise: AWGN, not clipped (N2N/B2U protocol), on crops made exactly as the synthesize stage makes a
crop cell (:func:`denoisebench.probes.probe_pairs`: crop, then noise seeded by the label ``awgn_sigma<sigma>``); scores
with the default protocol (RGB, rounded uint8, Wang SSIM).

Writes ``--csv`` (method, image, iterations, seconds, psnr, ssim) and ``--plot`` (mean PSNR vs mean seconds).

    python stages/paper.py 003 fig7 --images 2 --size 256 --sigma 25 --b2g '{"cycles": 3, "iterations": 100, "lr": 1e-3}' \
        --snapshots 50,100,200,300
"""

from __future__ import annotations

import argparse
import csv
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from denoisebench.stage_support import apply_profile_defaults, resolve_device
from denoisebench.validation import SEED, SIGMA, arg_type


def run(args: argparse.Namespace) -> list[dict[str, Any]]:
    import torch

    from denoisebench.methods import DenoiseContext, build_method
    from denoisebench.metrics import evaluate_pair
    from denoisebench.probes import probe_pairs

    torch.set_num_threads(args.threads)
    label = f"awgn:sigma={args.sigma:g}"
    pairs = probe_pairs(args.dataset, label, args.root, limit=args.images, crop=args.size or None, seed=args.seed)
    snapshots = sorted({int(s) for s in args.snapshots.split(",") if s})
    methods: list[tuple[str, str, dict[str, Any]]] = [("blind2grad", "blind2grad", json.loads(args.b2g))]
    if args.zsn2n is not None:
        methods.append(("zsn2n", "zsn2n", json.loads(args.zsn2n)))
    if args.self2self is not None:
        methods.append(("self2self", "self2self", json.loads(args.self2self)))
    if args.bm3d:
        methods.append(("bm3d", "bm3d", {}))
    rows: list[dict[str, Any]] = []
    for sample in pairs:  # the pipeline's crop cell: crop, then noise seeded by the label awgn_sigma<sigma>
        clean, noisy, seed = sample.clean, sample.noisy, int(sample.seed)
        base = evaluate_pair(clean, noisy)
        rows.append({"method": "noisy", "image": sample.source_id, "iterations": 0, "seconds": 0.0, **base})
        for row_name, method_name, config in methods:
            method = build_method(method_name, config)
            context = DenoiseContext(sigma=args.sigma, seed=seed, device=args.device,
                                     extra={"snapshot_at": snapshots} if method_name == "blind2grad" else {})
            start = time.perf_counter()
            out = method.denoise(noisy, context)
            seconds = time.perf_counter() - start
            for snap in getattr(method, "snapshots", []):
                if snap.iterations == context.extra.get("zeroshot", {}).get("iterations"):
                    continue  # the final point is recorded below with its full n_avg inference
                rows.append({"method": row_name, "image": sample.source_id, "iterations": snap.iterations,
                             "seconds": round(snap.train_seconds + snap.predict_seconds, 3),
                             **evaluate_pair(clean, snap.image)})
            iterations = context.extra.get("zeroshot", {}).get("iterations", 0)
            seconds -= sum(s.predict_seconds for s in getattr(method, "snapshots", []))  # snapshots' own cost
            rows.append({"method": row_name, "image": sample.source_id, "iterations": iterations,
                         "seconds": round(seconds, 3), **evaluate_pair(clean, out)})
            print(f"{sample.source_id} {row_name}: {rows[-1]['psnr']:.2f} dB ({base['psnr']:.2f} noisy), "
                  f"{seconds:.1f} s, {iterations} it", flush=True)
    return rows


def write_csv(rows: list[dict[str, Any]], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=["method", "image", "iterations", "seconds", "psnr", "ssim"],
                                lineterminator="\n")
        writer.writeheader()
        for r in rows:
            writer.writerow({**r, "psnr": f"{r['psnr']:.4f}", "ssim": f"{r['ssim']:.4f}"})


def plot(rows: list[dict[str, Any]], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    groups: dict[tuple[str, int], list[dict[str, Any]]] = {}
    for r in rows:
        groups.setdefault((r["method"], int(r["iterations"])), []).append(r)
    fig, ax = plt.subplots(figsize=(6, 4))
    for method in dict.fromkeys(m for m, _ in groups):
        keys = sorted(k for k in groups if k[0] == method)
        xs = [float(np.mean([r["seconds"] for r in groups[k]])) for k in keys]
        ys = [float(np.mean([r["psnr"] for r in groups[k]])) for k in keys]
        if method == "noisy":
            ax.axhline(ys[0], color="grey", ls=":", label="noisy input")
            continue
        ax.plot(xs, ys, marker="o", ls="-" if len(xs) > 1 else "", label=method)
        if method == "blind2grad":
            for k, x, y in zip(keys, xs, ys):
                ax.annotate(str(k[1]), (x, y), textcoords="offset points", xytext=(3, 3), fontsize=7)
    ax.set_xlabel("seconds per image")
    ax.set_ylabel("mean PSNR (dB)")
    ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="kodak24")
    parser.add_argument("--root", default="data/raw", help="data root holding the fetched dataset")
    parser.add_argument("--images", type=int, default=2)
    parser.add_argument("--size", type=int, default=256, help="central crop size (0: whole image)")
    parser.add_argument("--sigma", type=arg_type(SIGMA, "--sigma"), default=25.0)
    parser.add_argument("--seed", type=arg_type(SEED, "--seed"), default=0)
    parser.add_argument("--b2g", default='{"cycles": 3, "iterations": 100, "lr": 0.001, "n_avg": 20}',
                        help="Blind2Grad config (JSON)")
    parser.add_argument("--snapshots", default="50,100,200", help="Blind2Grad iteration counts to evaluate")
    parser.add_argument("--zsn2n", default="{}", help="ZS-N2N config (JSON); 'null' skips it")
    parser.add_argument("--self2self", default='{"iterations": 300, "lr": 0.001, "n_predictions": 20}',
                        help="Self2Self config (JSON); 'null' skips it")
    parser.add_argument("--no-bm3d", dest="bm3d", action="store_false")
    parser.add_argument("--device", default="cpu", help="cpu, cuda or auto (cuda when available)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--csv", default="reports/paper_003/fig7/fig7.csv")
    parser.add_argument("--plot", default="reports/paper_003/figures/fig7/fig7.png")
    parser.add_argument("--params", default="params.yaml",
                        help="params file whose fig7_003.<profile> section sets the defaults of these options")
    if Path(parser.parse_known_args(argv)[0].params).is_file():
        apply_profile_defaults(parser, "fig7_003", None if argv is None else list(argv))
    args = parser.parse_args(argv)
    args.device = resolve_device(args.device)
    args.zsn2n = None if args.zsn2n == "null" else args.zsn2n
    args.self2self = None if args.self2self == "null" else args.self2self
    rows = run(args)
    write_csv(rows, Path(args.csv))
    title = (f"{args.dataset}, {args.images} crops {args.size}px, AWGN sigma={args.sigma:g}, "
             f"{args.device} x{args.threads} thread(s)")
    plot(rows, Path(args.plot), title)
    print(f"wrote {args.csv} and {args.plot}")


if __name__ == "__main__":
    from denoisebench.stage_support import run_stage

    run_stage(main)

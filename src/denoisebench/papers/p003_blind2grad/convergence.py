"""Blind2Grad (paper 003) convergence curve: PSNR against Adam steps at a given learning rate, on one crop.

The paper gives no iteration count (its Fig. 7 marks every 3,000 iterations). This script measures the curve that
backs the `paper` profile's schedule: one Blind2Grad run (one cycle by default, i.e. the Bernoulli mask throughout:
the curve measures how fast the optimiser converges, not the dual-mask refinement), the averaged estimate scored
every ``--every`` steps and appended to ``--csv`` as soon as it is taken, so a run stopped by ``--max-cpu-seconds``
keeps its points. Runs at several learning rates share one CSV (column ``lr``); ``lr_steps`` = lr x steps is the
unit in which curves at different rates are compared.

    python stages/paper.py 003 convergence run --lr 2e-5 --iterations 4000 --every 250 --size 64 --csv curve.csv
    python stages/paper.py 003 convergence fit --csv curve.csv      # exponential and power-law fits per learning rate

Noise: AWGN on the crop as the synthesize stage makes it (``denoisebench.probes``), not clipped; scores with the default
protocol (RGB, rounded uint8, Wang SSIM).
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import time
from pathlib import Path
from typing import Any

import numpy as np

FIELDS = ["lr", "iterations", "lr_steps", "seconds", "cpu_seconds", "psnr", "ssim", "image", "size", "sigma", "n_avg"]


class BudgetSpent(Exception):
    """Raised from the snapshot callback once ``--max-cpu-seconds`` of process CPU time are used."""


def load_crop(args: argparse.Namespace) -> tuple[np.ndarray, np.ndarray, str]:
    """(clean, noisy, image id): the central ``--size`` crop of ``--image`` with AWGN, made exactly as the
    synthesize stage makes a crop cell (:func:`denoisebench.probes.probe_pairs`)."""
    from denoisebench.errors import ConfigError
    from denoisebench.probes import probe_pairs

    pairs = {p.source_id: p for p in probe_pairs(args.dataset, f"awgn:sigma={args.sigma:g}", args.root,
                                                 crop=args.size or None, seed=args.seed)}
    if args.image not in pairs:
        raise ConfigError(f"--image {args.image!r} is not in {args.dataset}; valid ids: {', '.join(pairs)}")
    return pairs[args.image].clean, pairs[args.image].noisy, args.image


def append_row(path: Path, row: dict[str, Any]) -> None:
    """Append one row to ``path`` (header written when the file is new) and flush it."""
    new = not path.is_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=FIELDS, lineterminator="\n")
        if new:
            writer.writeheader()
        writer.writerow(row)


def run(args: argparse.Namespace) -> None:
    import torch

    from denoisebench.methods import DenoiseContext, build_method
    from denoisebench.metrics import evaluate_pair

    torch.set_num_threads(args.threads)
    clean, noisy, image = load_crop(args)
    config = {"cycles": args.cycles, "iterations": args.iterations, "lr": args.lr, "n_avg": args.n_avg,
              **json.loads(args.b2g)}
    method = build_method("blind2grad", config)
    path, start = Path(args.csv), time.process_time()
    common = {"lr": f"{args.lr:g}", "image": image, "size": args.size, "sigma": f"{args.sigma:g}",
              "n_avg": args.n_avg}
    append_row(path, {**common, "iterations": 0, "lr_steps": 0, "seconds": 0, "cpu_seconds": 0, **_fmt(evaluate_pair(clean, noisy))})

    def log(snap: Any) -> None:
        scores = evaluate_pair(clean, snap.image)
        append_row(path, {**common, "iterations": snap.iterations, "lr_steps": f"{args.lr * snap.iterations:.6g}",
                          "seconds": f"{snap.train_seconds:.1f}", "cpu_seconds": f"{time.process_time() - start:.1f}",
                          **_fmt(scores)})
        print(f"lr {args.lr:g} step {snap.iterations}: {scores['psnr']:.2f} dB ({snap.train_seconds:.0f} s)",
              flush=True)
        if args.max_cpu_seconds and time.process_time() - start > args.max_cpu_seconds:
            raise BudgetSpent

    total = args.cycles * args.iterations
    points = list(range(args.every, total + 1, args.every))
    context = DenoiseContext(sigma=args.sigma, seed=args.seed, device=args.device,
                             extra={"snapshot_at": points, "snapshot_callback": log})
    try:
        method.denoise(noisy, context)
    except BudgetSpent:
        print(f"stopped after --max-cpu-seconds {args.max_cpu_seconds:g}", flush=True)


def _fmt(scores: dict[str, float]) -> dict[str, str]:
    return {"psnr": f"{scores['psnr']:.4f}", "ssim": f"{scores['ssim']:.4f}"}


def _fit(model: Any, u: np.ndarray, psnr: np.ndarray, guess: tuple[float, ...]) -> tuple[np.ndarray, np.ndarray, float]:
    import warnings

    from scipy.optimize import OptimizeWarning, curve_fit

    with warnings.catch_warnings():  # an undetermined covariance shows as infinite standard errors
        warnings.simplefilter("ignore", OptimizeWarning)
        params, cov = curve_fit(model, u, psnr, p0=guess, maxfev=20000)
    rms = float(np.sqrt(np.mean((model(u, *params) - psnr) ** 2)))
    return params, np.sqrt(np.diag(cov)), rms


def saturating_fit(u: np.ndarray, psnr: np.ndarray) -> dict[str, float]:
    """Least-squares fit of ``psnr = p_inf - a * exp(-u / tau)``; parameters with their standard errors and the
    ``u`` at which the fitted curve is within 0.1 dB of ``p_inf`` (``u_flat = tau * ln(a / 0.1)``)."""
    def model(x: np.ndarray, p_inf: float, a: float, tau: float) -> np.ndarray:
        return p_inf - a * np.exp(-x / tau)

    guess = (float(psnr.max()), float(psnr.max() - psnr.min()), float(u.max()) / 3)
    (p_inf, a, tau), err, rms = _fit(model, u, psnr, guess)
    u_flat = tau * math.log(a / 0.1) if a > 0.1 else 0.0
    return {"p_inf": float(p_inf), "p_inf_se": float(err[0]), "tau": float(tau), "tau_se": float(err[2]),
            "u_flat": float(u_flat), "rms": rms}


def power_fit(u: np.ndarray, psnr: np.ndarray) -> dict[str, float]:
    """Least-squares fit of ``psnr = p_inf - a * u^-b`` (slower approach than the exponential); ``u_flat`` is where
    ``a * u^-b = 0.1`` dB."""
    def model(x: np.ndarray, p_inf: float, a: float, b: float) -> np.ndarray:
        return p_inf - a * np.power(x, -b)

    keep = u > 0
    u, psnr = u[keep], psnr[keep]
    guess = (float(psnr.max()) + 1.0, float(psnr.max() - psnr.min()) * float(u.min()), 1.0)
    (p_inf, a, b), err, rms = _fit(model, u, psnr, guess)
    if not (a > 0 and b > 0.05 and np.isfinite(err).all()):
        raise ValueError(f"degenerate power law (a {a:.3g}, exponent {b:.3g}): no plateau in these points")
    with np.errstate(over="ignore"):
        u_flat = float((a / 0.1) ** (1.0 / b))
    return {"p_inf": float(p_inf), "p_inf_se": float(err[0]), "b": float(b), "b_se": float(err[2]),
            "u_flat": float(u_flat), "rms": rms}


def fit(args: argparse.Namespace) -> None:
    """Print, per learning rate, the measured range and both fits (in lr x steps units, converted to steps)."""
    rows = list(csv.DictReader(Path(args.csv).open()))
    by_lr: dict[float, list[dict[str, str]]] = {}
    for r in rows:
        by_lr.setdefault(float(r["lr"]), []).append(r)
    for lr, rs in sorted(by_lr.items()):
        rs = [r for r in rs if args.fit_from <= int(r["iterations"]) <= (args.fit_to or 10**12)]
        if not rs:
            print(f"lr {lr:g}: no points between --fit-from and --fit-to")
            continue
        u = np.array([float(r["lr_steps"]) for r in rs])
        p = np.array([float(r["psnr"]) for r in rs])
        steps = [int(r["iterations"]) for r in rs]
        print(f"lr {lr:g}: {len(rs)} points, steps {min(steps)}-{max(steps)}, PSNR {p[0]:.2f} -> {p[-1]:.2f} dB "
              f"(max {p.max():.2f} at step {steps[int(p.argmax())]})")
        if len(rs) < 4:
            print("  too few points to fit 3 parameters (need 4)")
            continue
        for name, fn in (("exponential", saturating_fit), ("power law", power_fit)):
            try:
                f = fn(u, p)
            except (RuntimeError, ValueError) as exc:
                print(f"  {name}: fit failed ({exc})")
                continue
            shape = (f"tau {f['tau'] / lr:.0f} +- {f['tau_se'] / lr:.0f} steps" if "tau" in f
                     else f"exponent {f['b']:.2f} +- {f['b_se']:.2f}")
            print(f"  {name}: p_inf {f['p_inf']:.2f} +- {f['p_inf_se']:.2f} dB, {shape}, within 0.1 dB of p_inf at "
                  f"{f['u_flat'] / lr:.0f} steps (lr*steps {f['u_flat']:.3g}; {f['u_flat'] / 2e-5:.0f} steps at 2e-5 "
                  f"by lr x steps), rms residual {f['rms']:.2f} dB")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run", help="train once and log PSNR every --every steps")
    r.add_argument("--dataset", default="kodak24")
    r.add_argument("--root", default="data/raw", help="data root holding the fetched dataset")
    r.add_argument("--image", default="kodim01")
    r.add_argument("--size", type=int, default=64, help="central crop size (0: whole image)")
    r.add_argument("--sigma", type=float, default=25.0)
    r.add_argument("--seed", type=int, default=0)
    r.add_argument("--lr", type=float, default=2e-5)
    r.add_argument("--cycles", type=int, default=1)
    r.add_argument("--iterations", type=int, default=4000, help="Adam steps per cycle")
    r.add_argument("--every", type=int, default=250)
    r.add_argument("--n-avg", type=int, default=8, help="stochastic passes averaged for each logged estimate")
    r.add_argument("--b2g", default="{}", help="further Blind2Grad config (JSON)")
    r.add_argument("--max-cpu-seconds", type=float, default=0.0,
                   help="stop after this much process CPU time (0: no limit); on a shared CPU wall time says little")
    r.add_argument("--device", default="cpu")
    r.add_argument("--threads", type=int, default=1)
    r.add_argument("--csv", default="reports/paper_003/convergence.csv")
    f = sub.add_parser("fit", help="fit the logged curves")
    f.add_argument("--csv", default="reports/paper_003/convergence.csv")
    f.add_argument("--fit-from", type=int, default=1, help="ignore points before this step (0 keeps the noisy one)")
    f.add_argument("--fit-to", type=int, default=0, help="ignore points after this step (0: none ignored)")
    args = parser.parse_args(argv)
    run(args) if args.command == "run" else fit(args)


if __name__ == "__main__":
    main()

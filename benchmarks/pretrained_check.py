"""Published weights through the benchmark's own protocol: noise synthesis (seeds as the synthesize stage), the
``pretrained`` method and the default metric protocol (RGB, round to uint8, no border; docs/metrics.md).

    python benchmarks/pretrained_check.py --model dncnn_s25 --dataset bsd68_gray --sigma 25 [--limit N]
    python benchmarks/pretrained_check.py --model ffdnet_clip_color --dataset kodak24 --sigma 25 --clip

Prints one line per (model, set, sigma): images, noisy PSNR, denoised PSNR/SSIM, seconds. ``--clip`` clips and
quantises the noisy input to uint8 (the protocol the FFDNet Clip models were trained for); the benchmark's AWGN
protocol does neither. Nothing is asserted: this is a measurement.
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def measure(model: str, dataset: str, sigma: float, limit: int | None, clip: bool, seed: int, data_root: str,
            weights_root: str, per_image: bool = False) -> dict[str, float]:
    """Mean PSNR/SSIM of ``model`` on the first ``limit`` images of ``dataset`` at AWGN ``sigma``."""
    from denoisebench.config import Cell
    from denoisebench.datasets import list_samples
    from denoisebench.methods import build_method
    from denoisebench.methods.base import DenoiseContext
    from denoisebench.metrics import evaluate_pair, psnr
    from denoisebench.prediction import denoise_adapted
    from denoisebench.synthesis import build_cell_noise, noise_overrides, realisation_seed

    text = f"awgn:sigma={sigma:g}"
    cell = Cell(dataset, dataset, None, text, limit)
    noise = build_cell_noise(text, noise_overrides(clip or None, clip or None))
    method = build_method("pretrained", {"model": model, "weights_root": weights_root, "fetch": True})
    rows = []
    start = time.perf_counter()
    for sample in list_samples(dataset, data_root, limit=limit):
        clean = sample.clean()
        noisy = noise.apply(clean, np.random.default_rng(realisation_seed(cell, sample.id, 0, seed)))
        out = denoise_adapted(method, noisy, DenoiseContext(sigma=sigma, device="cpu"))
        rows.append((psnr(clean, noisy), *evaluate_pair(clean, out).values()))
        if per_image:
            print(f"#  {model} {dataset} sigma={sigma:g} {sample.id}: {rows[-1][1]:.2f}", flush=True)
    mean = np.mean(rows, axis=0)
    return {"n": len(rows), "noisy": mean[0], "psnr": mean[1], "ssim": mean[2], "seconds": time.perf_counter() - start}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", action="append", required=True)
    parser.add_argument("--dataset", action="append", required=True)
    parser.add_argument("--sigma", type=float, action="append", required=True)
    parser.add_argument("--limit", type=int, default=None, help="first N images (default: all)")
    parser.add_argument("--clip", action="store_true", help="clip + quantise the noisy input (FFDNet Clip models)")
    parser.add_argument("--seed", type=int, default=0, help="synthesize.seed of params.yaml (default 0)")
    parser.add_argument("--data-root", default="data/raw", help="dataset root (mirror layout also works)")
    parser.add_argument("--weights-root", default="data/raw/weights")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--per-image", action="store_true", help="also print each image's PSNR")
    args = parser.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    print("| model | set | sigma | images | clip | noisy | PSNR | SSIM | s |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for model in args.model:
        for dataset in args.dataset:
            for sigma in args.sigma:
                r = measure(model, dataset, sigma, args.limit, args.clip, args.seed, args.data_root,
                            args.weights_root, args.per_image)
                print(f"| {model} | {dataset} | {sigma:g} | {r['n']} | {args.clip} | {r['noisy']:.2f} | "
                      f"{r['psnr']:.2f} | {r['ssim']:.4f} | {r['seconds']:.0f} |", flush=True)


if __name__ == "__main__":
    main()

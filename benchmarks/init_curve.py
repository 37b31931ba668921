"""PSNR vs training steps of DnCNN / FFDNet from the old and the authors' initialisation, with the project's trainer.

    python benchmarks/init_curve.py --arch dncnn --steps 150 --every 50 [--batch 8] [--threads 1]

"old": He-normal on every conv with unit BN scales (DnCNN) / orthogonal gain 1 with unit BN scales (FFDNet), the
initialisation before the fix; "new": the models' current ``reset_parameters`` (authors' code). Training: Adam
1e-3, constant rate, AWGN sigma 25 (DnCNN grey, BSD400) or sigma in [0, 75] (FFDNet colour, CBSD432), patches
40x40. Validation: PSNR (clipped float, peak 1) at sigma 25 on centre crops of the first test images (BSD68 /
CBSD68), the same noisy copies for every run. Prints a markdown table. A measurement, nothing is asserted.
"""

from __future__ import annotations

import argparse
import tempfile
import time

import numpy as np


def old_init(model) -> None:
    """The initialisation before the fix (see module docstring)."""
    from torch import nn

    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            if type(model).__name__ == "DnCNN":
                nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
            else:
                nn.init.orthogonal_(m.weight)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)


def setup(arch: str, data_root: str, crops: int, crop: int):
    """(model factory, train images, training noise, validation images, validation noise, sigma map flag)."""
    from denoisebench.datasets import list_samples
    from denoisebench.noise import build_noise

    def centre(img):
        h, w = img.shape[:2]
        return img[(h - crop) // 2:(h - crop) // 2 + crop, (w - crop) // 2:(w - crop) // 2 + crop]

    if arch == "dncnn":
        from denoisebench.models.dncnn import DnCNN

        train = [s.clean() for s in list_samples("bsd400_gray", data_root, limit=100)]
        val = [centre(s.clean()) for s in list_samples("bsd68_gray", data_root, limit=crops)]
        return (lambda: DnCNN(channels=1, depth=17)), train, build_noise({"name": "awgn", "sigma": 25}), val
    from denoisebench.methods.ffdnet import NoiseLevelMapNoise
    from denoisebench.models.ffdnet import FFDNet

    train = [s.clean() for s in list_samples("cbsd432", data_root, limit=100)]
    val = [centre(s.clean()) for s in list_samples("cbsd68", data_root, limit=crops)]
    noise = NoiseLevelMapNoise(build_noise({"name": "awgn", "sigma_range": [0, 75]}))
    return (lambda: FFDNet(channels=3, depth=12, features=96)), train, noise, val


def curve(arch: str, init: str, steps: int, every: int, batch: int, data_root: str, crops: int, crop: int
          ) -> tuple[dict[int, float], float, float]:
    """val PSNR per step (step 0 = at init), the noisy input's PSNR, seconds of training."""
    import torch

    from denoisebench.methods.ffdnet import NoiseLevelMapNoise
    from denoisebench.noise import build_noise
    from denoisebench.training import TrainConfig, train_model
    from denoisebench.training.trainer import psnr_validator

    factory, train, noise, val = setup(arch, data_root, crops, crop)
    val_noise = build_noise({"name": "awgn", "sigma": 25})
    if arch == "ffdnet":
        val_noise = NoiseLevelMapNoise(val_noise)
    validate = psnr_validator(val, val_noise, seed=1, max_images=crops)
    noisy_psnr = float(np.mean([10 * np.log10(1 / np.mean((np.clip(val_noise.apply(c, np.random.default_rng([1, i]))
                                                                     [..., :c.shape[2]], 0, 1) - c) ** 2))
                                for i, c in enumerate(val)]))
    torch.manual_seed(0)
    model = factory()
    if init == "old":
        old_init(model)
    scores = {0: validate(model.eval(), 0)["val_psnr"]}
    model.train()
    cfg = TrainConfig(iterations=steps, batch_size=batch, patch_size=40, optimizer="adam", lr=1e-3, seed=0,
                      checkpoint_every=steps, log_every=steps, val_every=every, device="cpu", progress=False)
    def record(net, step: int) -> dict[str, float]:
        metrics = validate(net, step)
        scores[step] = metrics["val_psnr"]
        return metrics

    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as out:
        train_model(model, train, noise, cfg, out, validate=record)
    return scores, noisy_psnr, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--arch", choices=["dncnn", "ffdnet"], action="append", required=True)
    parser.add_argument("--steps", type=int, default=150)
    parser.add_argument("--every", type=int, default=50)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--crops", type=int, default=4)
    parser.add_argument("--crop", type=int, default=96)
    parser.add_argument("--data-root", default="data/raw")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    for arch in args.arch:
        for init in ("old", "new"):
            scores, noisy, seconds = curve(arch, init, args.steps, args.every, args.batch, args.data_root,
                                           args.crops, args.crop)
            cells = " | ".join(f"{s}: {v:.2f}" for s, v in sorted(scores.items()))
            print(f"| {arch} | {init} | noisy {noisy:.2f} | {cells} | {seconds:.0f} s |", flush=True)


if __name__ == "__main__":
    main()

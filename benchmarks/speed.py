"""Speed figures of the hot paths: DnCNN training patches/s and inference megapixels/s, BM3D seconds/megapixel.

    python benchmarks/speed.py [--device auto|cpu|cuda] [--steps 20] [--threads N]

Prints one line per figure. Nothing is asserted: this is a measurement, not a test.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np


def _timeit(func, repeat: int) -> float:
    """Median wall time of ``func()`` over ``repeat`` runs, after one warm-up run."""
    func()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def bench_dncnn_training(device: str, steps: int, channels: int, depth: int, batch: int, patch: int) -> float:
    from denoisebench.noise import build_noise
    from denoisebench.training import TrainConfig, train_model
    from denoisebench.models import build_model

    rng = np.random.default_rng(0)
    images = [rng.random((128, 128, channels), dtype=np.float32) for _ in range(8)]
    cfg = TrainConfig.from_dict({"iterations": steps, "batch_size": batch, "patch_size": patch, "optimizer": "adam",
                                 "lr": 1e-3, "device": device, "checkpoint_every": 10**9, "log_every": 10**9,
                                 "progress": False, "amp": device == "cuda", "channels_last": device == "cuda"})
    model = build_model("dncnn", channels=channels, depth=depth, features=64)
    with tempfile.TemporaryDirectory() as tmp:
        result = train_model(model, images, build_noise("awgn:sigma_range=[0,55]"), cfg, Path(tmp), tracking=None)
    return result.patches_per_second


def bench_dncnn_inference(device: str, channels: int, depth: int, size: int) -> float:
    import torch

    from denoisebench.models import build_model

    model = build_model("dncnn", channels=channels, depth=depth, features=64).eval().to(device)
    x = torch.rand(1, channels, size, size, device=device)

    def run() -> None:
        with torch.inference_mode(), torch.autocast("cuda", dtype=torch.float16, enabled=device == "cuda"):
            model(x)
        if device == "cuda":
            torch.cuda.synchronize()

    seconds = _timeit(run, repeat=3)
    return size * size / 1e6 / seconds


def bench_bm3d(channels: int, size: int) -> float:
    from denoisebench.methods import build_method
    from denoisebench.methods.base import DenoiseContext

    rng = np.random.default_rng(0)
    clean = rng.random((size, size, channels), dtype=np.float32)
    noisy = clean + rng.normal(0, 25 / 255, clean.shape).astype(np.float32)
    method = build_method("bm3d")
    seconds = _timeit(lambda: method.denoise(noisy, DenoiseContext(sigma=25)), repeat=1)
    return seconds / (size * size / 1e6)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    args = parser.parse_args()
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    device = ("cuda" if torch.cuda.is_available() else "cpu") if args.device == "auto" else args.device
    name = torch.cuda.get_device_name() if device == "cuda" else f"CPU, {torch.get_num_threads()} threads"
    print(f"device: {device} ({name}), torch {torch.__version__}")
    for channels, depth, batch, patch in ((3, 20, 16, 50), (1, 17, 16, 40)):
        pps = bench_dncnn_training(device, args.steps, channels, depth, batch, patch)
        print(f"DnCNN train  C={channels} depth={depth} batch={batch} patch={patch}: {pps:8.1f} patches/s")
    for channels, depth in ((3, 20), (1, 17)):
        mps = bench_dncnn_inference(device, channels, depth, 512)
        print(f"DnCNN infer  C={channels} depth={depth} 512x512: {mps:8.3f} MP/s")
    for channels in (3, 1):
        spm = bench_bm3d(channels, 256)
        print(f"BM3D         C={channels} sigma=25 256x256: {spm:8.2f} s/MP")


if __name__ == "__main__":
    main()

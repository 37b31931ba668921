"""Data feed of every trainer at its paper schedule: batch preparation on this CPU vs what a GPU step consumes.

    python benchmarks/data_feed.py [--steps 20] [--budget reports/benchmarks/compute_budget.json]

For each distinct (method, training noise, batch, patch) of the paper profile's trained entries, the batch
preparation its trainer runs on the CPU is timed single-threaded on real training images (CBSD432 / BSD400 from
the data mirror; scikit-image photographs otherwise):

- generic trainer (``train_model``: DnCNN, FFDNet, paper 004, paper 000): the ``_Batches.make`` of the trainer
  itself (patch sampling + augmentation, plus the numpy noise when the noise model has no torch path; a torch path
  runs on the GPU and is not CPU work). It runs in ``num_workers`` prefetch threads;
- paper 002: patch sampling plus ``TaskCycle.degrade`` (motion blur, haze, rain, JPEG), which its loss hook runs
  on the training thread, inside the step (no prefetch);
- paper 001: ``PairSampler.sample`` with the composite noise (stage 1), on the training thread (no prefetch).

The GPU's appetite is the paper batch divided by the projected step time of ``benchmarks/compute_budget.py``
(FLOPs per step at its stated utilisation and precision). ``workers`` = patches/s needed over patches/s per
worker, rounded up (x1.5 headroom). Prints a markdown table; nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))
sys.path.insert(0, str(REPO / "benchmarks"))

import compute_budget  # noqa: E402 - after the sys.path lines above
import gpu_check  # noqa: E402 - after the sys.path lines above

HEADROOM = 1.5


def training_images(dataset: str, channels: int, patch: int, limit: int = 40) -> list[np.ndarray]:
    """The first ``limit`` images of ``dataset`` from the data mirror (its real sizes), else sample photographs."""
    from denoisebench.config import data_mirror
    from denoisebench.datasets.loaders import list_samples

    try:
        mirror = data_mirror(gpu_check.load_params(str(REPO / "params.yaml"), "paper"))
        images = [s.clean() for s in list_samples(dataset, mirror, None, limit)]
        images = [im for im in images if min(im.shape[:2]) >= patch and im.shape[2] == channels]
        if images:
            return images
    except Exception as exc:  # noqa: BLE001 - no mirror: fall back to the bundled photographs
        print(f"{dataset}: {exc}; using scikit-image's photographs", file=sys.stderr)
    return gpu_check.training_images(channels, patch)


def _rate(fn: Any, patches_per_call: int, steps: int) -> float:
    fn(0)
    t0 = time.perf_counter()
    for step in range(1, steps + 1):
        fn(step)
    return patches_per_call * steps / (time.perf_counter() - t0)


def feed_generic(method: Any, schedule: dict[str, Any], images: list[np.ndarray], steps: int) -> tuple[float, str]:
    """Patches/s of the generic trainer's own batch preparation (one thread), and what it includes."""
    import torch

    from denoisebench.training.config import TrainConfig
    from denoisebench.training.patches import PatchSampler
    from denoisebench.training.trainer import _Batches, _has_torch_noise

    own = getattr(method, "train_noise", None)  # paper 000 inserts its CRF folder into the camera-pipeline spec
    noise = own() if callable(own) else method.training_noise()
    cfg = TrainConfig(**{k: v for k, v in schedule.items()  # a method's own loss name is not the data's business
                         if k in TrainConfig.__dataclass_fields__ and k != "loss"})
    sampler = PatchSampler(images, cfg.patch_size, augment=cfg.augment)
    torch_noise = _has_torch_noise(noise, torch.device("cpu"), sampler.channels)
    batches = _Batches(sampler, noise, cfg, torch_noise=torch_noise)
    what = "patches" + ("" if torch_noise else f" + numpy {noise.params.get('name', type(noise).__name__)}")
    return _rate(batches.make, cfg.batch_size, steps), what


def feed_durn(method: Any, schedule: dict[str, Any], images: list[np.ndarray], steps: int) -> tuple[float, str]:
    """Patches/s of paper 002's patch sampling + per-task degradation (on the training thread)."""
    from denoisebench.training.patches import PatchSampler

    cycle = method.schedule(seed=0)
    sampler = PatchSampler(images, int(schedule["patch_size"]))
    batch = int(schedule["batch_size"])

    def make(step: int) -> None:
        clean = sampler.sample(batch, np.random.default_rng([0, step, 0]))
        cycle.degrade(clean, cycle.task(step + 1), step + 1)

    rates = [_rate(make, batch, max(steps, cycle.length))]
    return rates[0], f"patches + degradations of {'/'.join(cycle.tasks)} (training thread)"


def feed_meta(method: Any, schedule: dict[str, Any], images: list[np.ndarray], steps: int) -> tuple[float, str]:
    """Patches/s of paper 001's stage-1 pair sampling with composite noise (on the training thread)."""
    from denoisebench.noise import build_noise
    from denoisebench.papers.p001_meta_tta.training import PairSampler

    noise = build_noise(method.params["stage1_noise"])
    sampler = PairSampler(images, None, int(schedule["s1_patch"]), "stage 1")
    batch = int(schedule["s1_batch"])
    rate = _rate(lambda step: sampler.sample(batch, np.random.default_rng(step), noise,
                                              np.random.default_rng([step, 1])), batch, steps)
    return rate, "stage-1 crops + composite noise (training thread)"


FEEDS = {"durn_mtl": feed_durn, "meta_tta": feed_meta}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--steps", type=int, default=20, help="batches timed per trainer")
    p.add_argument("--budget", default=str(REPO / "reports" / "benchmarks" / "compute_budget.json"))
    p.add_argument("--utilisation", type=float, default=0.35)
    args = p.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    params = gpu_check.load_params(str(REPO / "params.yaml"), "paper")
    budget = json.loads(Path(args.budget).read_text()) if Path(args.budget).is_file() else {}
    learned, _ = gpu_check.discover(params, None)
    seen: dict[str, tuple[float, str]] = {}
    print(f"| entry | method | batch x patch | CPU work per batch | patches/s per worker (this CPU) | GPU needs "
          f"patches/s (projected H100, {args.utilisation:.0%}) | workers | num_workers now |")
    print("|---|---|---|---|---|---|---|---|")
    for entry in learned:
        method, spec = gpu_check._entry_method(params, entry, {"crf_dir": gpu_check.find_crf_dir(None)}
                                               if "crf_dir" in (params["methods"].get("learned") or {}).get(entry, {})
                                               else None)
        schedule = {k: v for k, v in params["train"][entry]["paper"].items() if k not in gpu_check.DATA_KEYS}
        patch = int(schedule.get("patch_size") or schedule.get("s1_patch"))
        batch = int(schedule.get("batch_size") or schedule.get("s1_batch"))
        key = json.dumps([spec.method, method.params.get("train_noise"), batch, patch, method.params.get("tasks"),
                          method.params.get("layout")], sort_keys=True, default=str)
        if key not in seen:
            channels = int(method.params.get("channels", 3))
            images = training_images(params["train"][entry]["paper"]["dataset"], channels, patch)
            try:
                seen[key] = FEEDS.get(spec.method, feed_generic)(method, schedule, images, args.steps)
            except Exception as exc:  # noqa: BLE001
                seen[key] = (float("nan"), f"error: {type(exc).__name__}: {exc}")
        rate, what = seen[key]
        row = budget.get(entry) or {}
        step_flops = sum(v for k, v in (row.get("parts") or {}).items() if k in ("iterations", "s1_steps"))
        need = None
        if step_flops:
            peak = compute_budget.PEAK_TFLOPS.get(row.get("precision", "fp32"), compute_budget.PEAK_TFLOPS["fp32"])
            per_count = 2 if spec.method == "meta_tta" else 1  # a stage-1 step count is two passes (theta1, mask)
            need = per_count * batch / (step_flops / (args.utilisation * peak * 1e12))
        workers = math.ceil(HEADROOM * need / rate) if need and not math.isnan(rate) else None
        print(f"| {entry} | {spec.method} | {batch}x{patch} | {what} | {rate:.0f} | "
              f"{'-' if need is None else f'{need:.0f}'} | {workers if workers is not None else '-'} | "
              f"{schedule.get('num_workers', 0)} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

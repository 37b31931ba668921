"""Paper 001: time and peak memory of one training step of each kind (plain, MAXL theta1 / theta2, meta-transfer
with K = 1 and K = 5) and of one meta-test, on this machine.

Usage: ``python benchmarks/p001_step_time.py [--patch 64] [--batch 2] [--repeats 3] [--device cpu]``.
Peak memory: CPU = the process's peak RSS during the repeats (VmHWM, reset through ``/proc/self/clear_refs``)
minus its RSS before them, CUDA = ``torch.cuda.max_memory_allocated`` minus the memory allocated before.
"""

from __future__ import annotations

import argparse
import time
from typing import Callable

import torch

from denoisebench.papers.p001_meta_tta import meta
from denoisebench.papers.p001_meta_tta.network import MetaTTANet


def _status_kib(field: str) -> int:
    for line in open("/proc/self/status", encoding="ascii"):
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"/proc/self/status has no {field}")


def _reset_peak_rss() -> int:
    """Reset the peak-RSS mark (Linux) and return the current RSS in bytes."""
    with open("/proc/self/clear_refs", "w", encoding="ascii") as handle:
        handle.write("5")
    return _status_kib("VmRSS") * 1024


def _measure(fn: Callable[[], object], repeats: int, device: torch.device) -> tuple[float, float]:
    """(median seconds, peak MiB) of ``fn``."""
    fn()  # warm-up
    if device.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    base = torch.cuda.memory_allocated() if device.type == "cuda" else _reset_peak_rss()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        if device.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t0)
    peak = ((torch.cuda.max_memory_allocated() if device.type == "cuda" else _status_kib("VmHWM") * 1024)
            - base) / 2**20
    return sorted(times)[len(times) // 2], peak


KIND_NAMES = ("plain (L_Pri + L_Rec)", "MAXL theta1 pass", "MAXL theta2 pass (2nd order)", "meta-transfer K=1",
              "meta-transfer K=5", "meta-test (code: 5 it.)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--patch", type=int, default=64)
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--kind", type=int, default=None, help="measure only this kind (index), in this process")
    args = parser.parse_args()
    if args.kind is None:  # every kind in its own process, so one kind's cached memory does not hide the next's
        import subprocess
        import sys

        print(f"device {args.device}, threads {args.threads}, batch {args.batch}, patch {args.patch}, "
              f"torch {torch.__version__}")
        for index in range(len(KIND_NAMES)):
            subprocess.run([sys.executable, __file__, *sys.argv[1:], "--kind", str(index)], check=True)
        return
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    torch.manual_seed(0)
    model = MetaTTANet().to(device)
    noisy = torch.rand(args.batch, 3, args.patch, args.patch, device=device)
    clean = noisy.clamp(0.1, 0.9)
    opt = torch.optim.Adam(model.parameters(), lr=1e-6)
    opt_net = torch.optim.Adam(model.net.parameters(), lr=1e-6)
    opt_mask = torch.optim.Adam(model.mask.parameters(), lr=1e-6)
    kinds: dict[str, Callable[[], object]] = {
        "plain (L_Pri + L_Rec)": lambda: meta.plain_step(model, opt_net, noisy, clean, "rl"),
        "MAXL theta1 pass": lambda: meta.maxl_aux_step(model, opt_net, noisy, clean),
        "MAXL theta2 pass (2nd order)": lambda: meta.maxl_mask_step(model, opt_mask, noisy, clean, 1e-3),
        "meta-transfer K=1": lambda: meta.mtl_step(model, opt, noisy, clean, 1, 5e-5),
        "meta-transfer K=5": lambda: meta.mtl_step(model, opt, noisy, clean, 5, 5e-5),
        "meta-test (code: 5 it.)": lambda: meta.meta_test(model, noisy[:1], "code"),
    }
    name = KIND_NAMES[args.kind]
    seconds, peak = _measure(kinds[name], args.repeats, device)
    print(f"{name:32s} {seconds * 1000:9.1f} ms  peak +{peak:8.1f} MiB", flush=True)


if __name__ == "__main__":
    main()

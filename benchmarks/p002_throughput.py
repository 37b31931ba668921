"""Paper 002 (DuRN-MTL) speed: training patches/s of the task-cycle step and inference seconds per image.

    python benchmarks/p002_throughput.py [--layouts R>B>H RBH] [--patch 48] [--batch 3] [--steps 10]
                                         [--image 192] [--device cpu] [--threads 1]

A training step is exactly the pipeline's (degradation of the step's task synthesised on the clean patches, the
task's path forward, DuRN loss, backward, Adam); the first two steps are warm-up and not timed. Inference: one
``image`` x ``image`` colour image through each task's path. Prints a markdown table. A measurement, nothing is
asserted.
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def measure(layout: str, patch: int, batch: int, steps: int, image: int, device: str) -> dict[str, float]:
    import torch

    from denoisebench.methods import build_method
    from denoisebench.papers.p002_durn_mtl.training import cycle_loss

    method = build_method("durn_mtl", {"layout": layout})
    net = method.build_network().to(device)
    schedule = method.schedule(seed=0)
    loss_fn = cycle_loss(schedule, 0.75, 1.1)
    opt = torch.optim.Adam(net.parameters(), lr=1e-4)
    rng = np.random.default_rng(0)
    times = []
    for step in range(1, steps + 3):
        clean = torch.from_numpy(rng.random((batch, 3, patch, patch), dtype=np.float32)).to(device)
        start = time.perf_counter()
        loss, _ = loss_fn(net, clean, clean, step)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        if step > 2:
            times.append(time.perf_counter() - start)
    x = torch.rand(1, 3, image, image, device=device)
    infer = []
    net.eval()
    with torch.inference_mode():
        for task in net.tasks:
            net(x, task)  # warm-up
            start = time.perf_counter()
            net(x, task)
            if device.startswith("cuda"):
                torch.cuda.synchronize()
            infer.append(time.perf_counter() - start)
    return {"patches_per_s": batch * len(times) / sum(times), "s_per_step": float(np.mean(times)),
            "infer_s": float(np.mean(infer))}


def main() -> None:
    import torch

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--layouts", nargs="+", default=["R>B>H", "RBH"])
    parser.add_argument("--patch", type=int, default=48)
    parser.add_argument("--batch", type=int, default=3)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--image", type=int, default=192)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"device {args.device}, threads {args.threads}, patch {args.patch}, batch {args.batch}, "
          f"{args.steps} timed steps, inference on {args.image}x{args.image}")
    print("| layout | patches/s | s/step | inference s/image (mean over tasks) |")
    print("| --- | --- | --- | --- |")
    for layout in args.layouts:
        m = measure(layout, args.patch, args.batch, args.steps, args.image, args.device)
        print(f"| `{layout}` | {m['patches_per_s']:.2f} | {m['s_per_step']:.3f} | {m['infer_s']:.3f} |")


if __name__ == "__main__":
    main()

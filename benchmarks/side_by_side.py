"""Speed against reference implementations, side by side in one process on the same batches.

    python benchmarks/side_by_side.py [--device cpu|cuda] [--steps 8] [--batch 8] [--patch 40] [--size 256]

1. DnCNN against KAIR's definition (cszn/KAIR ``models/network_dncnn.py`` with ``basicblock.conv``, re-written
   below from reading it: biased 3x3 convolutions, BatchNorm(momentum 0.9, eps 1e-4) + ReLU in the body,
   ``x - model(x)``), trained by a plain loop (KAIR's ``ModelPlain.optimize_parameters``: zero_grad, forward, loss,
   backward, step). Rows: KAIR net + plain loop (the reference), our net + the same plain loop (the network
   definition alone), our net + our trainer (:func:`denoisebench.training.train_model`: patch sampling, noise on
   the fly, logging; the full cost). Inference: one ``--size`` image through each network.
2. Every paper network of params.yaml (the first learned entry of each method): our trainer (the method's
   ``train()`` with its loss hook) against a plain torch loop of the same network with MSE on the same kind of
   batch.

Ratios are ours / reference in median time per step (>1: slower), steps after ``--warmup``. The two sides run
interleaved, one step each in turn (the plain step inside the trainer's per-step callback), so a busy machine
slows both alike. Every row uses the same batch size, patch size and Adam. Writes ``--json``, prints a table.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))
os.environ.setdefault("DENOISEBENCH_TRACKING", "0")

import torch  # noqa: E402
from torch import nn  # noqa: E402


class KAIRDnCNN(nn.Module):
    """KAIR's DnCNN (act_mode 'BR'): conv+ReLU head, (nb-2) x conv+BN+ReLU, conv tail; returns x - n."""

    def __init__(self, in_nc: int = 1, out_nc: int = 1, nc: int = 64, nb: int = 17) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.Conv2d(in_nc, nc, 3, 1, 1, bias=True), nn.ReLU(inplace=True)]
        for _ in range(nb - 2):
            layers += [nn.Conv2d(nc, nc, 3, 1, 1, bias=True), nn.BatchNorm2d(nc, momentum=0.9, eps=1e-4, affine=True),
                       nn.ReLU(inplace=True)]
        layers.append(nn.Conv2d(nc, out_nc, 3, 1, 1, bias=True))
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x - self.model(x)


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def batches(steps: int, batch: int, patch: int, channels: int, device: str, seed: int = 0
            ) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """``steps`` (noisy, clean) batches of random-texture patches with AWGN sigma 25, on ``device``."""
    g = torch.Generator().manual_seed(seed)
    out = []
    for _ in range(steps):
        clean = torch.rand(batch, channels, patch, patch, generator=g)
        noisy = clean + 25 / 255 * torch.randn(clean.shape, generator=g)
        out.append((noisy.to(device), clean.to(device)))
    return out


class PlainLoop:
    """The textbook loop (Adam, MSE) of one network over fixed batches, one timed step at a time."""

    def __init__(self, model: nn.Module, data: list[tuple[torch.Tensor, torch.Tensor]], device: str,
                 forward: Callable[[nn.Module, torch.Tensor], torch.Tensor] | None = None) -> None:
        self.model, self.data, self.device = model.to(device).train(), data, device
        self.opt = torch.optim.Adam(model.parameters(), lr=1e-4)
        self.forward = forward or (lambda m, x: m(x))
        self.i = 0

    def step(self) -> float:
        """Seconds of the next step (device synchronised)."""
        noisy, clean = self.data[self.i % len(self.data)]
        self.i += 1
        _sync(self.device)
        t0 = time.perf_counter()
        self.opt.zero_grad(set_to_none=True)
        out = self.forward(self.model, noisy)
        loss = nn.functional.mse_loss(out, _crop_like(clean, out))
        loss.backward()
        self.opt.step()
        _sync(self.device)
        return time.perf_counter() - t0


def interleaved(loops: list[PlainLoop], steps: int, warmup: int) -> list[float]:
    """Median seconds per step of each loop, their steps alternating (contention hits all alike)."""
    times: list[list[float]] = [[] for _ in loops]
    for i in range(steps):
        for k, loop in enumerate(loops):
            t = loop.step()
            if i >= warmup:
                times[k].append(t)
    return [float(np.median(t)) for t in times]


class TrainerVsPlain:
    """Trainer callback: after each trainer step, one step of the plain loop; both timed per step (the trainer's
    as the time between callbacks, minus the plain step's), so both run interleaved in one process."""

    def __init__(self, plain: PlainLoop, warmup: int, device: str) -> None:
        self.plain, self.warmup, self.device = plain, warmup, device
        self.ours: list[float] = []
        self.ref: list[float] = []
        self.last = None

    def __call__(self, step: int, logs: dict) -> None:
        _sync(self.device)
        now = time.perf_counter()
        if self.last is not None and step > self.warmup:
            self.ours.append(now - self.last)
        ref = self.plain.step()
        if step > self.warmup:
            self.ref.append(ref)
        self.last = time.perf_counter()

    def medians(self) -> tuple[float, float]:
        return float(np.median(self.ours)), float(np.median(self.ref))


def _crop_like(clean: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
    """``clean`` centre-cropped to ``out``'s size (valid-convolution networks return smaller images)."""
    dh, dw = clean.shape[-2] - out.shape[-2], clean.shape[-1] - out.shape[-1]
    return clean[..., dh // 2: clean.shape[-2] - (dh - dh // 2), dw // 2: clean.shape[-1] - (dw - dw // 2)]


def trainer_config(args: argparse.Namespace, patch: int | None = None) -> dict[str, Any]:
    return {"iterations": args.steps, "batch_size": args.batch, "patch_size": patch or args.patch,
            "optimizer": "adam", "lr": 1e-4, "checkpoint_every": 10**9, "log_every": 10**9, "progress": False,
            "device": args.device, "milestones": []}


def training_images(channels: int, size: int = 128, n: int = 8) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    return [rng.random((size, size, channels), dtype=np.float32) for _ in range(n)]


def infer_pair(models: list[nn.Module], channels: int, size: int, device: str, reps: int = 5) -> list[float]:
    """Median seconds of one ``size`` x ``size`` forward pass of each model, the models alternating."""
    x = torch.rand(1, channels, size, size, device=device)
    for model in models:
        model.to(device).eval()
    times: list[list[float]] = [[] for _ in models]
    with torch.inference_mode():
        for rep in range(reps + 1):
            for k, model in enumerate(models):
                _sync(device)
                t0 = time.perf_counter()
                model(x)
                _sync(device)
                if rep:  # the first round warms up
                    times[k].append(time.perf_counter() - t0)
    return [float(np.median(t)) for t in times]


def dncnn_rows(args: argparse.Namespace) -> list[dict[str, Any]]:
    from denoisebench.models import build_model
    from denoisebench.noise import build_noise
    from denoisebench.training import TrainConfig, train_model

    c, depth = 1, 17
    data = batches(args.steps, args.batch, args.patch, c, args.device)
    torch.manual_seed(0)
    kair_loop = PlainLoop(KAIRDnCNN(c, c, 64, depth), data, args.device)
    torch.manual_seed(0)
    ours_loop = PlainLoop(build_model("dncnn", channels=c, depth=depth), data, args.device)
    kair, ours_plain = interleaved([kair_loop, ours_loop], args.steps, args.warmup)
    torch.manual_seed(0)
    pair = TrainerVsPlain(PlainLoop(KAIRDnCNN(c, c, 64, depth), data, args.device), args.warmup, args.device)
    with tempfile.TemporaryDirectory() as tmp:
        train_model(build_model("dncnn", channels=c, depth=depth), training_images(c), build_noise("awgn:sigma=25"),
                    TrainConfig.from_dict(trainer_config(args)), tmp, callbacks=[pair])
    ours_trainer, kair2 = pair.medians()
    kair_inf, ours_inf = infer_pair([KAIRDnCNN(c, c, 64, depth), build_model("dncnn", channels=c, depth=depth)], c,
                                    args.size, args.device)
    return [
        {"model": "DnCNN-S (17 layers, grey)", "reference": "KAIR DnCNN, plain loop", "ours": "our DnCNN, plain loop",
         "ref_s_per_step": kair, "ours_s_per_step": ours_plain, "train_ratio": ours_plain / kair,
         "ref_infer_s": kair_inf, "ours_infer_s": ours_inf, "infer_ratio": ours_inf / kair_inf},
        {"model": "DnCNN-S (17 layers, grey)", "reference": "KAIR DnCNN, plain loop", "ours": "our DnCNN, our trainer",
         "ref_s_per_step": kair2, "ours_s_per_step": ours_trainer, "train_ratio": ours_trainer / kair2},
    ]


def paper_rows(args: argparse.Namespace) -> list[dict[str, Any]]:
    """Each method's network: its own ``train()`` (our trainer + its loss hook) vs a plain loop of the network."""
    import yaml

    from denoisebench.config import method_entry
    from denoisebench.methods import build_method
    from denoisebench.papers import load_paper_methods

    load_paper_methods()
    params = yaml.safe_load((REPO / "params.yaml").read_text(encoding="utf-8"))
    seen: dict[str, str] = {}
    for entry, raw in (params["methods"].get("learned") or {}).items():
        seen.setdefault(raw["method"], entry)
    rows = []
    for method_name, entry in seen.items():
        if args.only and method_name not in args.only:
            continue
        spec = method_entry(params, entry)
        config = dict(spec.config)
        if "crf_dir" in config:  # the camera pipeline is not what is compared here: train on AWGN
            config["train_noise"] = {"name": "awgn", "sigma": 25}
        method = build_method(spec.method, config)
        c = int(method.params.get("channels", 3))
        patch = max(args.patch, int(params["train"][entry]["demo"].get("patch_size", args.patch)))
        torch.manual_seed(0)
        net = method.build_network()
        plain = PlainLoop(net, batches(args.steps, args.batch, patch, c, args.device), args.device,
                          _plain_forward(net))
        pair = TrainerVsPlain(plain, args.warmup, args.device)
        torch.manual_seed(0)
        with tempfile.TemporaryDirectory() as tmp:
            method.train(training_images(c, max(128, patch)), Path(tmp), train_config=trainer_config(args, patch),
                         tracking=None, callbacks=[pair])
        ours, ref = pair.medians()
        rows.append({"model": f"{method_name} ({entry})", "reference": "same network, plain loop",
                     "ours": "its train() (our trainer + loss hook)", "ref_s_per_step": ref, "ours_s_per_step": ours,
                     "train_ratio": ours / ref, "patch": patch})
    return rows


def _plain_forward(net: nn.Module) -> Callable[[nn.Module, torch.Tensor], torch.Tensor]:
    """How a plain loop calls the network: FFDNet-style models take a noise-level map, the others the image."""
    import inspect

    if len(inspect.signature(net.forward).parameters) >= 2:
        return lambda m, x: m(x, torch.full((x.shape[0],), 25.0 / 255, device=x.device))
    return lambda m, x: _first(m(x))


def _first(out: Any) -> torch.Tensor:
    if isinstance(out, dict):
        return out["out"]
    return out[0] if isinstance(out, (tuple, list)) else out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="cpu")
    p.add_argument("--steps", type=int, default=8)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--patch", type=int, default=40)
    p.add_argument("--size", type=int, default=256, help="inference image side")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--only", nargs="*", default=None, help="method names of part 2 (default: all)")
    p.add_argument("--json", default=str(REPO / "reports" / "benchmarks" / "side_by_side.json"))
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    rows = dncnn_rows(args) + paper_rows(args)
    env = {"torch": torch.__version__, "device": args.device, "threads": args.threads,
           "gpu": torch.cuda.get_device_name() if args.device.startswith("cuda") else None}
    report = {"args": vars(args), "environment": env, "rows": rows}
    out = Path(args.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"{'model':36} {'ours':38} {'ref s/step':>10} {'ours s/step':>11} {'ratio':>6} {'infer ratio':>11}")
    for r in rows:
        infer = f"{r['infer_ratio']:.2f}" if "infer_ratio" in r else "-"
        print(f"{r['model'][:36]:36} {r['ours'][:38]:38} {r['ref_s_per_step']:10.4f} {r['ours_s_per_step']:11.4f} "
              f"{r['train_ratio']:6.2f} {infer:>11}")
    print(f"(batch {args.batch}, patch {args.patch}, {args.steps - args.warmup} timed steps, {args.device}, "
          f"{args.threads} thread(s); figures in {out})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

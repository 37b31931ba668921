"""Worker of tests/test_distributed.py: trains a tiny DnCNN (with BatchNorm) with the generic trainer.

Run directly (one process) or under ``torchrun --nproc_per_node=N`` (DDP, gloo). ``--die-at K`` kills rank 0
with SIGKILL right after step K (a hard crash: no cleanup, no final checkpoint).
"""

from __future__ import annotations

import argparse
import os
import signal

import numpy as np
import torch

from denoisebench.models import build_model
from denoisebench.noise import build_noise
from denoisebench.training import TrainConfig, train_model


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("out")
    parser.add_argument("--iterations", type=int, default=6)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--noise", default="awgn", help="awgn (torch noise path) or speckle (numpy path)")
    parser.add_argument("--die-at", type=int, default=0)
    parser.add_argument("--p000", choices=["s1", "s2"], help="paper 000's DAE loop with this strategy instead")
    args = parser.parse_args(argv)
    if args.p000:
        return train_p000(args)
    torch.set_num_threads(1)
    images = [np.random.default_rng(i).random((24, 24, 1), dtype=np.float32) for i in range(3)]
    noise = build_noise({"name": "awgn", "sigma_range": [5, 50]} if args.noise == "awgn"
                        else {"name": "speckle", "sigma": 25})
    cfg = TrainConfig(iterations=args.iterations, batch_size=args.batch, patch_size=12, optimizer="adam", lr=1e-2,
                      milestones=(4,), grad_clip=1.0, seed=3, checkpoint_every=2, log_every=1, device="cpu",
                      progress=False)
    torch.manual_seed(0)
    model = build_model("dncnn", channels=1, depth=3, features=8)
    callbacks = []
    if args.die_at:  # callbacks run on rank 0, the rank that writes checkpoints; torchrun then stops the others
        def killer(step: int, logs: dict) -> None:
            if step == args.die_at:
                os.kill(os.getpid(), signal.SIGKILL)
        callbacks.append(killer)
    train_model(model, images, noise, cfg, args.out, callbacks=callbacks, meta={"method": "tiny"},
                tracking=None)


def train_p000(args: argparse.Namespace) -> None:
    """Paper 000's multi-task loop (its own loss hook, task heads / learned weights) through the same trainer."""
    import denoisebench.papers.p000_mtl_slw  # noqa: F401  (registers mtl_dae)
    from denoisebench.methods.base import METHODS

    torch.set_num_threads(1)
    extra = {"weighting": "slw"} if args.p000 == "s1" else {}
    method = METHODS.get("mtl_dae")({"strategy": args.p000, **extra,
                                     "train_noise": {"name": "awgn", "sigma_range": [5, 50]}})
    images = [np.random.default_rng(i).random((40, 40, 3), dtype=np.float32) for i in range(3)]
    method.train(images, args.out, train_config={
        "iterations": args.iterations, "batch_size": args.batch, "patch_size": 32, "lr": 1e-3, "seed": 1,
        "checkpoint_every": 2, "log_every": 1, "device": "cpu", "progress": False})


if __name__ == "__main__":
    main()

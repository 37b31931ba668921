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
    parser.add_argument("--p002", action="store_true", help="paper 002's task-cycle loop (DuRN-MTL) instead")
    parser.add_argument("--p001", choices=["meta_tta", "ridnet_real"], help="paper 001's own loop instead")
    args = parser.parse_args(argv)
    if args.p001:
        return train_p001(args)
    if args.p000:
        return train_p000(args)
    if args.p002:
        return train_p002(args)
    torch.set_num_threads(1)
    images = [np.random.default_rng(i).random((24, 24, 1), dtype=np.float32) for i in range(3)]
    noise = build_noise({"name": "awgn", "sigma_range": [5, 50]} if args.noise == "awgn"
                        else {"name": "speckle", "sigma": 25})
    cfg = TrainConfig(iterations=args.iterations, batch_size=args.batch, patch_size=12, optimizer="adam", lr=1e-2,
                      milestones=(4,), grad_clip=1.0, seed=3, checkpoint_every=2, log_every=1, device="cpu",
                      progress=False)
    torch.manual_seed(0)
    model = build_model("dncnn", channels=1, depth=3, features=8)
    train_model(model, images, noise, cfg, args.out, callbacks=killer(args.die_at), meta={"method": "tiny"},
                tracking=None)


def killer(die_at: int) -> list:
    """A callback that SIGKILLs its process after step ``die_at`` (none for 0). Callbacks run on rank 0, the rank
    that writes checkpoints; torchrun then stops the others."""
    def kill(step: int, logs: dict) -> None:
        if step == die_at:
            os.kill(os.getpid(), signal.SIGKILL)
    return [kill] if die_at else []


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


def train_p002(args: argparse.Namespace) -> None:
    """Paper 002's task cycles (a task per step, degradations drawn in the loss hook, unused decoders) through the
    same trainer: layout RB>H, cycle haze 1 / rain 1 / blur 1, so 4 steps train 3 different paths."""
    import denoisebench.papers.p002_durn_mtl  # noqa: F401  (registers durn_mtl)
    from denoisebench.methods.base import METHODS

    torch.set_num_threads(1)
    method = METHODS.get("durn_mtl")({"layout": "RB>H", "cycle": {"blur": 1}})
    images = [np.random.default_rng(i).random((24, 24, 3), dtype=np.float32) for i in range(2)]
    method.train(images, args.out, train_config={
        "iterations": args.iterations, "batch_size": args.batch, "patch_size": 16, "lr": 1e-3, "seed": 2,
        "milestones": [], "checkpoint_every": 2, "log_every": 1, "device": "cpu", "progress": False})


def train_p001(args: argparse.Namespace) -> None:
    """Paper 001's loop: ``meta_tta`` runs MAXL (a theta1 pass, a mask pass with its look-ahead) then 2 MAML
    meta-batches (K = 2 inner steps per sample); ``ridnet_real`` the plain L1 baseline on the same pool. Batches:
    stage 1 ``--batch``, stage 2 half of it (one sample per rank with 2 processes)."""
    import denoisebench.papers.p001_meta_tta  # noqa: F401  (registers meta_tta, ridnet_real)
    from denoisebench.methods import build_method

    torch.set_num_threads(1)
    config = {"inner_steps": 2} if args.p001 == "meta_tta" else {"features": 8, "reduction": 4}
    method = build_method(args.p001, config)
    images = [np.random.default_rng(i).random((24, 24, 3), dtype=np.float32) for i in range(3)]
    schedule = {"s2_iterations": 2, "s2_batch": args.batch // 2, "s2_patch": 16, "pool": "synthetic", "seed": 1,
                "checkpoint_every": 2, "log_every": 1, "device": "cpu"}
    if args.p001 == "meta_tta":
        schedule.update(s1_epochs=1, s1_steps=1, s1_batch=args.batch, s1_patch=16)
    method.train(images, args.out, train_config=schedule, callbacks=killer(args.die_at))


if __name__ == "__main__":
    main()

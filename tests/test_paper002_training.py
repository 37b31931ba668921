"""Paper 002: DuRN loss, task cycles, resumable multi-task training, decoder choice per cell."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
import torch

from denoisebench.errors import ConfigError
from denoisebench.methods import build_method
from denoisebench.methods.base import DenoiseContext
from denoisebench.papers.p002_durn_mtl.losses import durn_loss, ssim
from denoisebench.papers.p002_durn_mtl.training import TaskCycle

torch.set_num_threads(1)
TINY = {"iterations": 4, "batch_size": 2, "patch_size": 16, "checkpoint_every": 2, "log_every": 2,
        "progress": False, "milestones": []}


def test_ssim_and_loss() -> None:
    torch.manual_seed(0)
    x = torch.rand(2, 3, 24, 24)
    assert float(ssim(x, x)) == pytest.approx(1.0, abs=1e-5)
    noisy = (x + 0.2 * torch.randn_like(x)).requires_grad_()
    loss, logs = durn_loss(noisy, x)
    assert float(ssim(noisy.detach(), x)) < 0.9 and float(loss) == pytest.approx(
        0.75 * float(logs["l1"]) + 1.1 * (1 - float(logs["ssim"])), rel=1e-6)
    loss.backward()
    assert noisy.grad is not None and noisy.grad.abs().sum() > 0


def test_cycles_hold_the_paper_counts_in_a_seeded_order() -> None:
    cycle = TaskCycle(["rain", "blur", "haze"], {"haze": 1, "rain": 1, "blur": 3}, {"rain": ["rain"], "blur":
                      ["motion_blur"], "haze": ["haze"]}, seed=0)
    assert cycle.length == 5
    for k in range(4):
        tasks = [cycle.task(s) for s in range(5 * k + 1, 5 * k + 6)]
        assert Counter(tasks) == {"blur": 3, "rain": 1, "haze": 1}
    orders = {tuple(cycle.order(k)) for k in range(20)}
    assert len(orders) > 1  # random order per cycle ...
    again = TaskCycle(["rain", "blur", "haze"], {"blur": 3}, cycle.specs, seed=0)
    assert [again.task(s) for s in range(1, 30)] == [cycle.task(s) for s in range(1, 30)]  # ... fixed by the seed
    batch = np.random.default_rng(0).random((2, 3, 16, 16)).astype(np.float32)
    assert np.array_equal(cycle.degrade(batch, "rain", 3), cycle.degrade(batch, "rain", 3))
    with pytest.raises(ConfigError, match="task_noise"):
        TaskCycle(["jpeg"], {}, {"rain": ["rain"]}, seed=0)


def test_training_resumes_exactly_and_uses_task_decoders(tmp_path) -> None:
    images = [np.random.default_rng(i).random((24, 24, 3)).astype(np.float32) for i in range(2)]
    config = {"layout": "RB>H", "cycle": {"blur": 1}}
    full = build_method("durn_mtl", config)
    full.train(images, tmp_path / "full", train_config=TINY)
    part = build_method("durn_mtl", config)
    part.train(images, tmp_path / "part", train_config={**TINY, "iterations": 2})
    resumed = build_method("durn_mtl", config)
    resumed.train(images, tmp_path / "part", train_config=TINY)
    assert resumed.last_result.resumed_from == 2
    for a, b in zip(full._model.state_dict().values(), resumed._model.state_dict().values()):
        assert torch.equal(a, b)
    loaded = build_method("durn_mtl", {})
    loaded.load(tmp_path / "full" / "model.pt")
    assert loaded.params["layout"] == "RB>H"
    out = loaded.denoise(images[0][:13, :18], DenoiseContext(noise={"name": "haze"}))
    assert out.shape == (13, 18, 3) and np.isfinite(out).all()
    with pytest.raises(ConfigError, match="no trained decoder for 'jpeg'"):
        loaded.denoise(images[0], DenoiseContext(noise={"name": "jpeg"}))


def test_single_task_control_trains_only_its_path(tmp_path) -> None:
    images = [np.random.default_rng(3).random((24, 24, 3)).astype(np.float32)]
    method = build_method("durn_mtl", {"layout": "R>B>H", "tasks": ["rain"]})
    torch.manual_seed(0)  # fit() seeds with the schedule's seed (0) before building the network
    fresh = method.build_network().state_dict()
    method.train(images, tmp_path / "st", train_config={**TINY, "iterations": 2})
    trained = method._model.state_dict()
    changed = {k.split(".")[0] + "." + k.split(".")[1] for k in trained if not torch.equal(trained[k], fresh[k])}
    assert "decoders.rain" in changed and not any(k.startswith(("decoders.blur", "decoders.haze", "extra."))
                                                  for k in changed)
    with pytest.raises(ConfigError, match="tasks"):
        build_method("durn_mtl", {"layout": "R>B>H", "tasks": ["jpeg"]})


def test_augmentation_follows_the_authors_per_task(tmp_path) -> None:
    """Rain: horizontal flips with probability 1/2 (DuRN rain_streak.py); blur and haze: none (motion_blur.py,
    haze.py); the generic 8-way augmentation is refused."""
    cycle = TaskCycle(["rain", "blur", "haze"], {}, {"rain": ["rain"], "blur": ["motion_blur"], "haze": ["haze"]},
                      seed=3)
    assert cycle.augment_of == {"rain": "hflip", "blur": "none", "haze": "none"}
    batch = np.random.default_rng(0).random((64, 3, 8, 8)).astype(np.float32)
    for task in ("blur", "haze"):
        assert np.array_equal(cycle.augment(batch, task, 5), batch)
    rain = cycle.augment(batch, "rain", 5)
    flipped = [np.array_equal(r, b[:, :, ::-1]) for r, b in zip(rain, batch)]
    kept = [np.array_equal(r, b) for r, b in zip(rain, batch)]
    assert all(f != k for f, k in zip(flipped, kept)) and 16 < sum(flipped) < 48
    assert np.array_equal(cycle.augment(batch, "rain", 5), rain)  # a function of (seed, step)
    assert "task_augment" in cycle.params
    method = build_method("durn_mtl", {"layout": "R>B>H"})
    images = [np.random.default_rng(1).random((24, 24, 3), dtype=np.float32)]
    with pytest.raises(ConfigError, match="augment"):
        method.train(images, tmp_path, train_config={**TINY, "augment": True})

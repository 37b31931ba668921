"""Paper 003 (Blind2Grad) methods: Blind2Grad, ZS-N2N and Self2Self improve a noisy crop with short schedules,
are deterministic given the seed, record their iterations, and reject bad configs."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from denoisebench.errors import ConfigError
from denoisebench.methods import METHODS, DenoiseContext, build_method
from denoisebench.papers.p003_blind2grad.network import Blind2GradNet

torch.set_num_threads(1)

SHORT = {
    "blind2grad": {"cycles": 2, "iterations": 30, "lr": 1e-3, "n_avg": 8, "n_avg_cycle": 4},
    "zsn2n": {"iterations": 200},
    "self2self": {"iterations": 60, "lr": 1e-3, "n_predictions": 8},
}
TINY = {
    "blind2grad": {"cycles": 2, "iterations": 2, "n_avg": 2, "n_avg_cycle": 1},
    "zsn2n": {"iterations": 3},
    "self2self": {"iterations": 2, "n_predictions": 2},
}


def psnr(estimate: np.ndarray, clean: np.ndarray) -> float:
    return float(10 * np.log10(1.0 / np.mean((np.clip(estimate, 0, 1).astype(np.float64) - clean) ** 2)))


@pytest.fixture(scope="module")
def crop() -> tuple[np.ndarray, np.ndarray]:
    from skimage import data

    clean = (data.astronaut()[110:142, 215:247].astype(np.float32) / 255.0)
    noisy = (clean + np.random.default_rng(0).normal(0, 25 / 255, clean.shape)).astype(np.float32)
    return clean, noisy


def test_registered_as_zero_shot() -> None:
    for name in ("blind2grad", "zsn2n", "self2self"):
        cls = METHODS.get(name)
        assert cls.kind == "zero-shot" and cls.needs_training is False
    assert METHODS.get("blind2grad").paper == "blind2grad"


@pytest.mark.parametrize("name", ["blind2grad", "zsn2n", "self2self"])
def test_improves_psnr_on_noisy_crop(name: str, crop: tuple[np.ndarray, np.ndarray]) -> None:
    clean, noisy = crop
    method = build_method(name, SHORT[name])
    context = DenoiseContext(sigma=25, seed=1)
    out = method.denoise(noisy, context)
    assert out.shape == noisy.shape and out.dtype == np.float32
    assert psnr(out, clean) > psnr(noisy, clean) + 1.0
    expected = SHORT[name].get("cycles", 1) * SHORT[name]["iterations"]
    assert method.last_info["iterations"] == expected
    assert context.extra["zeroshot"]["iterations"] == expected


@pytest.mark.parametrize("name", ["blind2grad", "zsn2n", "self2self"])
def test_deterministic_given_seed_and_leaves_global_rng(name: str) -> None:
    noisy = np.random.default_rng(1).uniform(0, 1, (32, 32, 3)).astype(np.float32)
    torch.manual_seed(123)
    before = torch.random.get_rng_state()
    a = build_method(name, TINY[name]).denoise(noisy, DenoiseContext(seed=7))
    assert torch.equal(torch.random.get_rng_state(), before)
    b = build_method(name, TINY[name]).denoise(noisy, DenoiseContext(seed=7))
    c = build_method(name, TINY[name]).denoise(noisy, DenoiseContext(seed=8))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


@pytest.mark.parametrize("config", [
    {"mask": "uniform", "tstandout": False},
    {"mask": "bernoulli", "eps_s": 0.0, "full_branch_grad": True},
    {"variant": "real"},
])
def test_blind2grad_ablation_switches_run(config: dict) -> None:
    noisy = np.random.default_rng(2).uniform(0, 1, (37, 45, 1)).astype(np.float32)  # odd size, grey
    method = build_method("blind2grad", {**TINY["blind2grad"], **config})
    out = method.denoise(noisy, DenoiseContext(seed=0))
    assert out.shape == noisy.shape and np.isfinite(out).all()


def test_real_variant_defaults() -> None:
    p = build_method("blind2grad", {"variant": "real"}).params
    assert (p["omega"], p["lr"], p["dilation"], p["mask_granularity"]) == (0.5, 1e-5, 2, "pixel")
    q = build_method("blind2grad").params
    assert (q["omega"], q["gamma"], q["lr"], q["n_avg"], q["eps_g"], q["eps_s"]) == (0.8, 0.5, 2e-5, 40, 40.0, 25.0)


def test_snapshots_for_fig7() -> None:
    noisy = np.random.default_rng(3).uniform(0, 1, (32, 32, 3)).astype(np.float32)
    method = build_method("blind2grad", TINY["blind2grad"])
    method.denoise(noisy, DenoiseContext(seed=0, extra={"snapshot_at": [1, 3]}))
    assert [s.iterations for s in method.snapshots] == [1, 3]
    assert method.snapshots[0].image.shape == noisy.shape
    assert method.snapshots[0].train_seconds <= method.snapshots[1].train_seconds


def test_snapshot_callback_reports_each_snapshot_and_can_stop_the_run() -> None:
    noisy = np.random.default_rng(3).uniform(0, 1, (32, 32, 3)).astype(np.float32)
    seen: list[int] = []

    def stop_after_first(snap: object) -> None:
        seen.append(snap.iterations)  # type: ignore[attr-defined]
        raise KeyboardInterrupt

    method = build_method("blind2grad", TINY["blind2grad"])
    with pytest.raises(KeyboardInterrupt):
        method.denoise(noisy, DenoiseContext(seed=0, extra={"snapshot_at": [1, 3],
                                                            "snapshot_callback": stop_after_first}))
    assert seen == [1]
    with pytest.raises(ConfigError, match="snapshot_callback"):
        method.denoise(noisy, DenoiseContext(seed=0, extra={"snapshot_callback": 3}))


def test_network_shapes_and_size() -> None:
    net = Blind2GradNet(3)
    assert 0.9e6 < sum(p.numel() for p in net.parameters()) < 1.2e6
    x = torch.rand(1, 3, 64, 96)
    assert net(x).shape == x.shape
    assert sum(1 for _ in net.tstandouts()) == 10
    assert build_method("zsn2n").parameter_count() == 22275


@pytest.mark.parametrize("name,config,match", [
    ("blind2grad", {"mask": "checker"}, "mask="),
    ("blind2grad", {"variant": "raw"}, "variant="),
    ("blind2grad", {"omega": -0.1}, "omega="),
    ("blind2grad", {"iterations": 0}, "iterations="),
    ("blind2grad", {"tstandout": "yes"}, "tstandout="),
    ("blind2grad", {"mask_rate": 1.5}, "mask_rate="),
    ("blind2grad", {"mask_granularity": "channel"}, "granularity="),
    ("blind2grad", {"p_detail": 0.4}, "p_detail="),
    ("blind2grad", {"detail_window": 4}, "detail_window="),
    ("blind2grad", {"eps_g_sigma_ref": 0}, "eps_g_sigma_ref="),
    ("blind2grad", {"dropout": 0.3}, "unknown config keys"),
    ("zsn2n", {"lr": 0}, "lr="),
    ("self2self", {"dropout": 1.5}, "dropout="),
    ("self2self", {"n_predictions": 0}, "n_predictions="),
])
def test_config_errors(name: str, config: dict, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        build_method(name, config)


def test_snapshot_request_validated() -> None:
    with pytest.raises(ConfigError, match="snapshot_at"):
        build_method("zsn2n", {"iterations": 1}).denoise(np.zeros((8, 8, 3), np.float32),
                                                          DenoiseContext(extra={"snapshot_at": [0]}))

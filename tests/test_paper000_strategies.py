"""Paper 000 (mtl_slw): weightings (MGDA / self-learning weight, Kendall, equal), task switching, short training."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from denoisebench.errors import ConfigError
from denoisebench.methods import build_method
from denoisebench.papers.p000_mtl_slw import methods as _mtl
from denoisebench.papers.p000_mtl_slw.objective import SigmaMapNoise
from denoisebench.papers.p000_mtl_slw.switching import TaskSwitcher
from denoisebench.papers.p000_mtl_slw.weighting import build_weighting, min_norm_weights
from denoisebench.noise import build_noise

torch.set_num_threads(1)


def _toy_gradients() -> torch.Tensor:
    return torch.tensor([[1.0, 0.2, 0.0], [-0.4, 1.0, 0.3]])  # two conflicting task gradients


def _closed_form(g: torch.Tensor) -> float:
    g1, g2 = g
    return float(torch.clamp((g2 - g1) @ g2 / ((g1 - g2) @ (g1 - g2)), 0, 1))


def test_min_norm_solver_matches_closed_form_and_brute_force() -> None:
    g = _toy_gradients()
    alpha = min_norm_weights(g @ g.T)
    assert alpha[0].item() == pytest.approx(_closed_form(g), abs=1e-6)
    g3 = torch.randn(3, 20, generator=torch.Generator().manual_seed(0))
    gram = g3 @ g3.T
    a3 = min_norm_weights(gram)
    grid = torch.stack(torch.meshgrid(torch.linspace(0, 1, 201), torch.linspace(0, 1, 201), indexing="ij"), -1).view(-1, 2)
    grid = grid[grid.sum(1) <= 1]
    simplex = torch.cat([grid, 1 - grid.sum(1, keepdim=True)], 1)
    best = torch.einsum("ni,ij,nj->n", simplex, gram, simplex).min()
    assert float(a3 @ gram @ a3) <= float(best) + 1e-4
    assert float(a3.sum()) == pytest.approx(1.0) and float(a3.min()) >= 0


def test_self_learning_weight_layer_converges_to_min_norm_weights() -> None:
    g = _toy_gradients()
    gram = g @ g.T
    layer = build_weighting("slw", ["mse", "ssim"], normalize=False, lr=0.5, inner_steps=1)
    losses = torch.tensor([1.0, 1.0])
    first = None
    for _ in range(600):
        _, alpha = layer(losses, gram)
        first = alpha if first is None else first
    assert alpha[0].item() == pytest.approx(_closed_form(g), abs=2e-3)
    assert abs(first[0].item() - 0.5) < 0.05  # it learns gradually from the uniform start
    exact = build_weighting("mgda", ["mse", "ssim"], normalize=False)
    assert exact(losses, gram)[1][0].item() == pytest.approx(_closed_form(g), abs=1e-6)


def test_uncertainty_weighting_params_get_gradients_and_equal_is_fixed() -> None:
    w = build_weighting("uncertainty", ["mse", "ssim", "kl"])
    losses = torch.tensor([0.01, 0.2, 0.5], requires_grad=True)
    total, alpha = w(losses)
    total.backward()
    assert w.log_vars.grad is not None and torch.all(w.log_vars.grad != 0)
    assert w.log_vars.grad[0].item() == pytest.approx(1 - 0.01)  # d/ds (exp(-s) L + s) at s = 0
    eq = build_weighting("equal", ["mse", "ssim", "kl"])
    total, alpha = eq(torch.tensor([0.01, 0.2, 0.5]))
    assert torch.allclose(alpha, torch.full((3,), 1 / 3))
    assert total.item() == pytest.approx(0.01)  # normalised to the MSE scale: each task contributes 0.01 / 3
    with pytest.raises(ConfigError):
        build_weighting("slw", ["mse"], lr=-1)


def test_switching_schedule_order() -> None:
    head = torch.nn.Conv2d(4, 3, 1)
    sw = TaskSwitcher(["mse", "ssim", "kl"], head)
    assert sw.schedule(7) == ["mse", "ssim", "kl", "mse", "ssim", "kl", "mse"]
    blocks = TaskSwitcher(["mse", "ssim", "kl"], head, order=["kl", "mse"], switch_every=2)
    assert blocks.schedule(6) == ["kl", "kl", "mse", "mse", "kl", "kl"]
    assert sw.head_for("mse") is None and torch.equal(sw.head_for("kl").weight, head.weight)
    assert sw.head_for("kl") is not sw.head_for("ssim")
    with pytest.raises(ConfigError):
        TaskSwitcher(["mse", "ssim"], head, order=["l1"])


def test_sigma_maps_match_the_drawn_noise() -> None:
    clean = torch.rand(4, 3, 32, 32, generator=torch.Generator().manual_seed(0)) * 0.8 + 0.1
    for spec in ({"name": "hetero_gaussian", "clip": False}, {"name": "awgn", "sigma_range": [5, 50]}):
        synth = SigmaMapNoise(build_noise(spec), seed=3)
        noisy, sigma = synth(clean, step=5)
        z = (noisy - clean) / sigma
        assert abs(float(z.std()) - 1.0) < 0.03, spec
        again, _ = synth(clean, step=5)
        assert torch.equal(noisy, again)  # deterministic in (seed, step)


def _images(n: int = 4, size: int = 48) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:size, 0:size] / size
    return [np.clip(np.stack([np.sin(6 * xx + i), np.cos(5 * yy - i), xx * yy], -1) * 0.4 + 0.5
                    + 0.02 * rng.standard_normal((size, size, 3)), 0, 1).astype(np.float32) for i in range(n)]


@pytest.mark.parametrize("config", [
    {"strategy": "s1", "weighting": "slw"},
    {"strategy": "s1", "weighting": "uncertainty"},
    {"strategy": "s2"},
])
def test_short_dae_training_reduces_the_loss(tmp_path: Path, config: dict) -> None:
    method = build_method("mtl_dae", config)
    schedule = {"iterations": 24, "batch_size": 4, "patch_size": 32, "lr": 1e-3, "log_every": 6,
                "checkpoint_every": 100, "device": "cpu", "progress": False}
    method.train(_images(), tmp_path, train_config=schedule)
    rows = np.genfromtxt(tmp_path / "history.csv", delimiter=",", names=True)
    assert rows["mse"][-1] < 0.7 * rows["mse"][0]
    if config["strategy"] == "s1":
        weights = np.genfromtxt(tmp_path / "weights.csv", delimiter=",", names=True)
        assert len(weights) == 4 and np.allclose(weights["w_mse"] + weights["w_ssim"] + weights["w_kl"], 1, atol=1e-4)
    restored = build_method("mtl_dae")
    restored.load(tmp_path / "model.pt")
    assert restored.params["strategy"] == config["strategy"]
    out = restored.denoise(_images(1, 37)[0], _mtl.DenoiseContext())
    assert out.shape == (37, 37, 3) and np.isfinite(out).all()


def test_short_cbdnet_s2_training_runs_with_its_noise_map_losses(tmp_path: Path) -> None:
    method = build_method("mtl_cbdnet", {"strategy": "s2", "train_noise": {"name": "hetero_gaussian"}})
    schedule = {"iterations": 6, "batch_size": 2, "patch_size": 32, "lr": 1e-3, "log_every": 3,
                "checkpoint_every": 100, "device": "cpu", "progress": False}
    method.train(_images(2), tmp_path, train_config=schedule)
    rows = np.genfromtxt(tmp_path / "history.csv", delimiter=",", names=True)
    assert {"asym", "tv", "task_kl", "L_kl"} <= set(rows.dtype.names)
    assert np.isfinite(rows["loss"]).all()
    assert method.parameter_count() == 4_365_382


def test_cbdnet_pipeline_sigma_map_keeps_the_noise_stream(shared_data: Path) -> None:
    noise = build_noise({"name": "cbdnet", "crf_dir": str(shared_data / "CBDNet_CRF"), "pattern": "none"})
    clean = torch.rand(2, 3, 16, 16, generator=torch.Generator().manual_seed(0)) * 0.8 + 0.1
    synth = SigmaMapNoise(noise, seed=1)
    noisy, sigma = synth(clean, step=2)
    rng = np.random.default_rng(synth._seed(2))  # the same stream without the replay
    direct = np.stack([noise.apply(p.transpose(1, 2, 0), rng).transpose(2, 0, 1) for p in clean.numpy()])
    assert np.array_equal(noisy.numpy(), direct)
    assert sigma.shape == clean.shape and float(sigma.min()) >= 0 and float(sigma.max()) < 0.5


def test_history_csv_survives_a_resume_whose_out_dir_was_restored(tmp_path: Path) -> None:
    """history.csv/weights.csv after kill + resume equal an uninterrupted run's, even when out_dir's CSVs were
    replaced meanwhile (what `dvc exp run` does from dvc.lock): their rows travel in the resume state."""
    from denoisebench.training.trainer import resume_store

    schedule = {"iterations": 8, "batch_size": 2, "patch_size": 32, "lr": 1e-3, "log_every": 2,
                "checkpoint_every": 4, "device": "cpu", "progress": False}
    config = {"strategy": "s1", "weighting": "slw"}
    build_method("mtl_dae", config).train(_images(2), tmp_path / "full", train_config=schedule)

    def kill_at_6(step: int, logs: dict) -> None:
        if step == 6:
            raise KeyboardInterrupt("simulated kill")

    out = tmp_path / "models" / "dae"
    with resume_store(tmp_path / "store"):
        with pytest.raises(KeyboardInterrupt):
            build_method("mtl_dae", config).train(_images(2), out, train_config=schedule, callbacks=[kill_at_6])
        for name in ("history.csv", "weights.csv"):
            (out / name).write_text("step,mse\n1,9\n")  # a stale file restored into out_dir
        build_method("mtl_dae", config).train(_images(2), out, train_config=schedule)
    for name in ("history.csv", "weights.csv"):
        got, want = (np.genfromtxt(d / name, delimiter=",", names=True) for d in (out, tmp_path / "full"))
        columns = [c for c in want.dtype.names if c != "patches_per_s"]  # wall-clock throughput differs
        assert got.dtype.names == want.dtype.names and list(got["step"]) == [2, 4, 6, 8]
        assert all(np.array_equal(got[c], want[c]) for c in columns), name

"""Paper 000 (mtl_slw): weightings (MGDA / self-learning weight, Kendall, equal), task switching, short training."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from denoisebench.errors import ConfigError
from denoisebench.methods import build_method
from denoisebench.papers.p000_mtl_slw import methods as _mtl
from denoisebench.papers.p000_mtl_slw.objective import SigmaMapNoise, WeightTrace
from denoisebench.papers.p000_mtl_slw.switching import TaskSwitcher
from denoisebench.papers.p000_mtl_slw.weighting import GRAD_NORMS, build_weighting, min_norm_weights, normalized_gram
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
    layer = build_weighting("slw", ["mse", "ssim"], normalize=False, grad_norm="none", lr=0.5, inner_steps=1)
    losses = torch.tensor([1.0, 1.0])
    first = None
    for _ in range(600):
        _, alpha = layer(losses, gram)
        first = alpha if first is None else first
    assert alpha[0].item() == pytest.approx(_closed_form(g), abs=2e-3)
    assert abs(first[0].item() - 0.5) < 0.05  # it learns gradually from the uniform start
    exact = build_weighting("mgda", ["mse", "ssim"], normalize=False, grad_norm="none")
    assert exact(losses, gram)[1][0].item() == pytest.approx(_closed_form(g), abs=1e-6)


# Hand-computed min-norm weights under each gradient normalisation (Sener & Koltun's gradient_normalizers:
# none: g; l2: g / |g|; loss: g / L; loss+: g / (L |g|)). Two tasks: g1 = (1, 0), g2 = (0, 2), L = (0.5, 2); the
# normalised gradients are orthogonal, so alpha_1 = |h2|^2 / (|h1|^2 + |h2|^2) with h_t the normalised g_t:
#   none: |h| = (1, 2)     -> alpha = (4/5, 1/5)
#   l2:   |h| = (1, 1)     -> alpha = (1/2, 1/2)
#   loss: |h| = (2, 1)     -> alpha = (1/5, 4/5)
#   loss+: |h| = (2, 1/2)  -> alpha = (1/17, 16/17)
TWO_TASKS = {"none": (0.8, 0.2), "l2": (0.5, 0.5), "loss": (0.2, 0.8), "loss+": (1 / 17, 16 / 17)}
# Three orthogonal gradients g = (1, 0, 0), (0, 2, 0), (0, 0, 3), L = (1, 0.5, 0.25): alpha_t is proportional to
# 1 / |h_t|^2, with |h| = (1, 2, 3) none, (1, 1, 1) l2, (1, 4, 12) loss, (1, 2, 4) loss+.
THREE_ORTHOGONAL = {"none": (36 / 49, 9 / 49, 4 / 49), "l2": (1 / 3, 1 / 3, 1 / 3),
                    "loss": (144 / 154, 9 / 154, 1 / 154), "loss+": (16 / 21, 4 / 21, 1 / 21)}
# Three gradients with 0 in their hull (Pareto stationary): (1, 0), (0, 1), (-1/2, -1/2), L = 1. Solving
# sum alpha_t h_t = 0 on the simplex: none: alpha = (1/4, 1/4, 1/2); l2 (h_3 = -(1, 1)/sqrt 2):
# alpha_3 = 1 / (1 + sqrt 2) = sqrt 2 - 1, alpha_1 = alpha_2 = (2 - sqrt 2) / 2.
STATIONARY = {"none": (0.25, 0.25, 0.5), "l2": (1 - 0.5 ** 0.5, 1 - 0.5 ** 0.5, 2 ** 0.5 - 1)}


def _weights(grads: list[list[float]], losses: list[float], grad_norm: str, name: str = "mgda") -> torch.Tensor:
    g = torch.tensor(grads)
    tasks = ["mse", "ssim", "kl"][: len(grads)]
    return build_weighting(name, tasks, grad_norm=grad_norm)(torch.tensor(losses), g @ g.T)[1]


@pytest.mark.parametrize("grad_norm", sorted(TWO_TASKS))
def test_min_norm_weights_of_two_tasks_under_each_normalisation(grad_norm: str) -> None:
    alpha = _weights([[1.0, 0.0], [0.0, 2.0]], [0.5, 2.0], grad_norm)
    assert alpha.tolist() == pytest.approx(TWO_TASKS[grad_norm], abs=1e-6)


@pytest.mark.parametrize("grad_norm", sorted(THREE_ORTHOGONAL))
def test_min_norm_weights_of_three_tasks_under_each_normalisation(grad_norm: str) -> None:
    grads = [[1.0, 0.0, 0.0], [0.0, 2.0, 0.0], [0.0, 0.0, 3.0]]
    alpha = _weights(grads, [1.0, 0.5, 0.25], grad_norm)
    assert alpha.tolist() == pytest.approx(THREE_ORTHOGONAL[grad_norm], abs=1e-4)


@pytest.mark.parametrize("grad_norm", sorted(STATIONARY))
def test_min_norm_weights_at_a_pareto_stationary_point(grad_norm: str) -> None:
    alpha = _weights([[1.0, 0.0], [0.0, 1.0], [-0.5, -0.5]], [1.0, 1.0, 1.0], grad_norm)
    assert alpha.tolist() == pytest.approx(STATIONARY[grad_norm], abs=2e-3)


def test_self_learning_weight_follows_the_normalisation() -> None:
    g = torch.tensor([[1.0, 0.0], [0.0, 2.0]])
    for grad_norm, expected in TWO_TASKS.items():
        layer = build_weighting("slw", ["mse", "ssim"], grad_norm=grad_norm, lr=0.5)
        for _ in range(800):
            _, alpha = layer(torch.tensor([0.5, 2.0]), g @ g.T)
        assert alpha[0].item() == pytest.approx(expected[0], abs=5e-3), grad_norm


def test_normalised_combination_descends_along_the_min_norm_element() -> None:
    """With ``normalize`` the network's gradient is n_0 times sum_t alpha_t g_t / n_t (MGDA's common descent
    direction); without it, sum_t alpha_t g_t (the official code's back-propagated loss)."""
    a = torch.tensor([[1.0, 0.0], [0.0, 2.0]])
    for grad_norm in GRAD_NORMS.names():
        for normalize in (True, False):
            theta = torch.tensor([0.3, -0.2], requires_grad=True)
            losses = torch.stack([1.0 + a[0] @ theta, 3.0 + a[1] @ theta])  # gradients a_t, losses 1.3 and 2.6
            w = build_weighting("mgda", ["mse", "ssim"], grad_norm=grad_norm, normalize=normalize)
            total, alpha = w(losses, a @ a.T)
            total.backward()
            _, n = normalized_gram(a @ a.T, losses.detach(), grad_norm)
            n = n.float()
            expected = n[0] * (alpha[:, None] * a / n[:, None]).sum(0) if normalize else (alpha[:, None] * a).sum(0)
            assert torch.allclose(theta.grad, expected, atol=1e-6), (grad_norm, normalize)
            record = w.step_record()
            assert record["n_ssim"] == pytest.approx(float(n[1]), rel=1e-6)
            assert record["gnorm_ssim"] == pytest.approx(2.0)
    with pytest.raises(ConfigError, match="grad_norm"):
        build_weighting("slw", ["mse", "ssim"], grad_norm="loss++")


def test_weight_trace_writes_one_row_per_step_and_replaces_them_on_resume(tmp_path: Path) -> None:
    w = build_weighting("equal", ["mse", "ssim"])
    trace = WeightTrace(tmp_path, w)
    trace.callback(1, {})  # nothing recorded before the first forward
    assert not (tmp_path / "weights.csv").exists()
    for step in range(1, 6):
        w(torch.tensor([0.1, 0.2]))
        trace.callback(step, {} if step % 2 else {"loss": 1.0})
    rows = np.genfromtxt(tmp_path / "weights.csv", delimiter=",", names=True)
    assert rows["step"].tolist() == [1, 2, 3, 4, 5] and np.allclose(rows["w_mse"], 0.5)
    resumed = WeightTrace(tmp_path, w)  # a run resumed from the checkpoint of step 3
    for step in (4, 5, 6):
        resumed.callback(step, {})
    rows = np.genfromtxt(tmp_path / "weights.csv", delimiter=",", names=True)
    assert rows["step"].tolist() == [1, 2, 3, 4, 5, 6]


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
        assert weights["step"].tolist() == list(range(1, 25))  # every step, not only the logged ones
        assert np.allclose(weights["w_mse"] + weights["w_ssim"] + weights["w_kl"], 1, atol=1e-4)
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
        steps = [2, 4, 6, 8] if name == "history.csv" else list(range(1, 9))  # weights.csv: every step
        assert got.dtype.names == want.dtype.names and list(got["step"]) == steps
        assert all(np.array_equal(got[c], want[c]) for c in columns), name


def _report_stage():
    from denoisebench.papers.p000_mtl_slw import report

    return report


def test_report_weight_table_samples_the_trajectory_and_compares_with_the_baseline(tmp_path: Path) -> None:
    import json

    stage = _report_stage()
    label = stage._label("hetero_gaussian")
    (tmp_path / "models" / "dae_s1_hg_lossplus").mkdir(parents=True)
    lines = ["step,w_kl,w_mse,w_ssim"] + [f"{s},{0.1},{1 - 0.1 - s / 250},{s / 250}" for s in range(1, 201)]
    (tmp_path / "models" / "dae_s1_hg_lossplus" / "weights.csv").write_text("\n".join(lines) + "\n")
    (tmp_path / "metrics").mkdir()
    for entry, value in (("dae_mse_hg", 20.0), ("dae_s1_hg_lossplus", 19.5)):
        cell = {"cbsd68": {label: {"psnr": value, "ssim": 0.7}}}
        (tmp_path / "metrics" / f"{entry}.json").write_text(json.dumps(cell))
    params = {"profile": "quick", "methods": {"learned": {"dae_s1_hg_lossplus": {
        "method": "mtl_dae", "strategy": "s1", "weighting": "slw", "weighting_params": {"grad_norm": "loss+"}}}}}
    table = stage.weight_table(tmp_path / "models", tmp_path, params)
    row = next(line for line in table if "dae_s1_hg_lossplus" in line)
    assert "| slw | loss+ |" in row
    assert "1: 0.90/0.00/0.10" in row and "50: 0.70/0.20/0.10" in row and "200: 0.10/0.80/0.10" in row
    assert "19.50 (-0.50) / 0.700" in row and row.endswith("| n/a | 19.50 (-0.50) / 0.700 |")

"""The training-loop side of seed 000: the wrapped network, the loss hook of each strategy, sigma maps, history.

:class:`MTLNetwork` holds the denoiser (``net``, a model with ``run(x, head=None) -> {"out", ["sigma"]}`` and a
``head`` output layer), the strategy-1 weighting and the strategy-2 task heads, so the generic trainer optimises
and checkpoints all of them (exact resume included). ``forward`` is the denoiser with its own (MSE) head.

:func:`make_loss_fn` returns the trainer's ``loss_fn(model, noisy, clean, step) -> (loss, logs)`` for a strategy
of :data:`STRATEGIES` (``mse``: plain MSE baseline; ``s1``: weighted sum; ``s2``: task switching). For a model
with a noise estimator (CBDNet) CBDNet's own noise-map terms are added unchanged; they need the true noise-level
map, so the training noise is then drawn inside the hook by :class:`SigmaMapNoise` (the trainer gets a
pass-through noise), seeded by (seed, step) so resumed runs see the same data.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from denoisebench.errors import ConfigError
from denoisebench.fsutil import write_text_atomic
from denoisebench.papers.p000_mtl_slw.cbdnet import asymmetric_loss, tv_loss
from denoisebench.papers.p000_mtl_slw.losses import TASK_LOSSES
from denoisebench.papers.p000_mtl_slw.switching import TaskSwitcher
from denoisebench.papers.p000_mtl_slw.weighting import Weighting
from denoisebench.registry import Registry

Logs = dict[str, torch.Tensor]


class MTLNetwork(nn.Module):
    """Denoiser plus the strategy's learnable extras (weighting parameters, task heads)."""

    def __init__(self, net: nn.Module, weighting: Weighting | None = None, switcher: TaskSwitcher | None = None):
        super().__init__()
        self.net, self.weighting, self.switcher = net, weighting, switcher
        self.ddp_find_unused_parameters = switcher is not None  # s2 trains one task head per step

    def forward(self, noisy: torch.Tensor) -> torch.Tensor:
        return self.net(noisy)


@dataclass
class Objective:
    """What the hook computes.

    Attributes:
        strategy: a name of :data:`STRATEGIES`.
        tasks: task-loss names (:data:`~denoisebench.papers.p000_mtl_slw.losses.TASK_LOSSES`), task 0 first (the MSE).
        grad_params: which shared parameters MGDA's per-task gradients are taken on: ``"last"`` (the output
            layer, the MGDA-UB-style shortcut of method-specs 3(b)) or ``"all"`` (every network parameter, eq. 7).
        sigma_terms: CBDNet's noise-map loss weights (asym_weight, asym_alpha, tv_weight) or None.
    """

    strategy: str = "mse"
    tasks: tuple[str, ...] = ("mse", "ssim", "kl")
    grad_params: str = "last"
    sigma_terms: dict[str, float] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.strategy not in STRATEGIES:
            raise ConfigError(f"mtl: strategy={self.strategy!r} is not one of {', '.join(STRATEGIES.names())}")
        for t in self.tasks:
            TASK_LOSSES.get(t)
        if self.grad_params not in GRAD_PARAMS:
            raise ConfigError(f"mtl: grad_params={self.grad_params!r} is not one of {', '.join(GRAD_PARAMS)}")


GRAD_PARAMS: dict[str, Callable[[nn.Module], list[nn.Parameter]]] = {
    "last": lambda net: [p for p in net.head.parameters() if p.requires_grad],
    "all": lambda net: [p for p in net.parameters() if p.requires_grad],
}


def task_gram(losses: Sequence[torch.Tensor], params: list[nn.Parameter]) -> torch.Tensor:
    """Gram matrix (T, T) of the per-task gradients of ``params`` (autograd.grad, graph kept for the update).

    Under data-parallel training the per-task gradients are averaged over the ranks first (DDP averages only the
    final gradient), so the Gram matrix is the full batch's, as in a single process."""
    from denoisebench.training.distributed import all_mean

    flat = []
    for loss in losses:
        grads = torch.autograd.grad(loss, params, retain_graph=True, allow_unused=True)
        flat.append(torch.cat([(g if g is not None else torch.zeros_like(p)).reshape(-1).float()
                               for g, p in zip(grads, params)]))
    g = all_mean(torch.stack(flat))
    return g @ g.T


# ---------------------------------------------------------------------------------------------------------------
# Strategies: (model, objective, noisy, clean, step) -> (loss on the reconstruction, net outputs, logs)

StrategyFn = Callable[[MTLNetwork, Objective, torch.Tensor, torch.Tensor, int],
                      "tuple[torch.Tensor, dict[str, torch.Tensor], Logs]"]
STRATEGIES: Registry[StrategyFn] = Registry("mtl strategy")


def _task_losses(objective: Objective, out: torch.Tensor, clean: torch.Tensor, noisy: torch.Tensor) -> torch.Tensor:
    return torch.stack([TASK_LOSSES.get(t)(out, clean, noisy) for t in objective.tasks])


@STRATEGIES.register("mse")
def _strategy_mse(model: MTLNetwork, objective: Objective, noisy: torch.Tensor, clean: torch.Tensor,
                  step: int) -> tuple[torch.Tensor, dict[str, torch.Tensor], Logs]:
    parts = model.net.run(noisy)
    loss = TASK_LOSSES.get("mse")(parts["out"], clean, noisy)
    return loss, parts, _monitor(objective, parts["out"], clean, noisy)


def _monitor(objective: Objective, out: torch.Tensor, clean: torch.Tensor, noisy: torch.Tensor) -> Logs:
    """Every task loss of ``out`` (no gradient), so all strategies log comparable ``L_*`` curves."""
    with torch.no_grad():
        losses = _task_losses(objective, out.detach(), clean, noisy)
    return {f"L_{t}": losses[i] for i, t in enumerate(objective.tasks)}


@STRATEGIES.register("s1")
def _strategy_joint(model: MTLNetwork, objective: Objective, noisy: torch.Tensor, clean: torch.Tensor,
                    step: int) -> tuple[torch.Tensor, dict[str, torch.Tensor], Logs]:
    if model.weighting is None:
        raise ConfigError("mtl: strategy s1 needs a weighting (slw, mgda, uncertainty, equal)")
    parts = model.net.run(noisy)
    losses = _task_losses(objective, parts["out"], clean, noisy)
    gram = None
    if model.weighting.needs_gradients:
        gram = task_gram(list(losses), GRAD_PARAMS[objective.grad_params](model.net))
    total, alpha = model.weighting(losses, gram)
    logs: Logs = {f"L_{t}": losses[i].detach() for i, t in enumerate(objective.tasks)}
    logs.update({f"w_{t}": alpha[i] for i, t in enumerate(objective.tasks)})
    logs.update(model.weighting.extra_logs())
    return total, parts, logs


@STRATEGIES.register("s2")
def _strategy_switch(model: MTLNetwork, objective: Objective, noisy: torch.Tensor, clean: torch.Tensor,
                     step: int) -> tuple[torch.Tensor, dict[str, torch.Tensor], Logs]:
    if model.switcher is None:
        raise ConfigError("mtl: strategy s2 needs a TaskSwitcher")
    task = model.switcher.task_at(step)
    parts = model.net.run(noisy, head=model.switcher.head_for(task))
    loss = TASK_LOSSES.get(task)(parts["out"], clean, noisy)
    logs = _monitor(objective, parts["out"], clean, noisy)
    logs.update({f"task_{t}": torch.tensor(float(t == task)) for t in objective.tasks})
    return loss, parts, logs


# ---------------------------------------------------------------------------------------------------------------
# Noise with its true noise-level map (for CBDNet's asymmetric loss)


class PassThroughNoise:
    """The trainer's noise when the hook synthesises it: returns the clean batch; ``params`` names the real one."""

    def __init__(self, real: Any) -> None:
        self.real = real
        self.params = {"name": "synthesised_in_loss_hook", "noise": getattr(real, "params", type(real).__name__)}

    def apply(self, img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        return np.asarray(img, dtype=np.float32)

    def apply_torch(self, batch: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        return batch


def _replay_hg_lambdas(noise: Any, generator: torch.Generator, batch: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(lambda_s, lambda_r) that ``hetero_gaussian.apply_torch`` draws first from ``generator`` (same order)."""
    from denoisebench.noise.base import torch_uniform

    p = noise.params
    n, c = batch.shape[:2]
    if p["sampling"] == "fixed":
        return (torch.full((n, c, 1, 1), p["lambda_s"], dtype=batch.dtype, device=batch.device),
                torch.full((n, c, 1, 1), p["lambda_r"], dtype=batch.dtype, device=batch.device))
    if p["sampling"] == "cbdnet":
        lam_s = torch_uniform(generator, None, tuple(p["sigma_s_range"]), (n, c, 1, 1), batch) ** 2
        lam_r = torch_uniform(generator, None, tuple(p["sigma_c_range"]), (n, c, 1, 1), batch) ** 2
        return lam_s, lam_r
    from denoisebench.noise.gaussian import _BROOKS_LOG_LS

    log_s = torch_uniform(generator, None, _BROOKS_LOG_LS, (n, 1, 1, 1), batch)
    jitter = torch.randn((n, 1, 1, 1), generator=generator, dtype=batch.dtype, device=batch.device)
    return log_s.exp(), (2.18 * log_s + 1.20 + 0.26 * jitter).exp()


def _sigma_awgn(noise: Any, clean: torch.Tensor, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    noisy, sigma = noise.apply_torch(clean, generator, return_sigma=True)
    return noisy, (sigma / 255.0).view(-1, 1, 1, 1).expand_as(clean)


def _sigma_hg(noise: Any, clean: torch.Tensor, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    probe = torch.Generator(device=generator.device)
    probe.set_state(generator.get_state())
    lam_s, lam_r = _replay_hg_lambdas(noise, probe, clean)
    return noise.apply_torch(clean, generator), (lam_r + lam_s * clean).clamp_min(0.0).sqrt()


def _sigma_cbdnet_patch(noise: Any, patch: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """One (H, W, 3) patch through the camera pipeline and its irradiance-domain noise std map.

    The draws documented by ``cbdnet`` (CRF index, pattern when random, sigma_s (3), sigma_c (3), ...) are replayed
    from a copy of the generator state; the std is sqrt(L sigma_s^2 + sigma_c^2) ("paper") or
    sqrt((L sigma_s)^2 + sigma_c^2) ("code"), L = f^-1(x).
    """
    p = noise.params
    state = rng.bit_generator.state
    tables = noise.tables
    index = int(rng.integers(tables.n_curves))
    if p["pattern"] == "random":
        rng.integers(5)
    sigma_s = rng.uniform(*p["sigma_s_range"], size=3).astype(np.float32)
    sigma_c = rng.uniform(*p["sigma_c_range"], size=3).astype(np.float32)
    rng.bit_generator.state = state
    irradiance = tables.inverse(patch, index)
    var = irradiance * sigma_s**2 if p["variance"] == "paper" else (irradiance * sigma_s) ** 2
    return noise.apply(patch, rng), np.sqrt(var + sigma_c**2).astype(np.float32)


class SigmaMapNoise:
    """Draws noisy batches with their true noise-level maps, deterministically in (seed, step).

    Supports ``awgn`` (sigma map = the per-sample sigma), ``hetero_gaussian`` (sqrt(lambda_r + lambda_s x)) and
    ``cbdnet`` (irradiance-domain std; numpy, per patch).
    """

    TORCH = {"awgn": _sigma_awgn, "hetero_gaussian": _sigma_hg}

    def __init__(self, noise: Any, seed: int) -> None:
        name = noise.params["name"]
        if name not in self.TORCH and name != "cbdnet":
            raise ConfigError(f"mtl: no noise-level map for training noise {name!r}; use awgn, hetero_gaussian or cbdnet")
        self.noise, self.seed, self.name = noise, seed, name

    def _seed(self, step: int) -> int:
        """Seed of ``step``; under data-parallel training each rank draws for its own slice of the batch, so the
        rank is mixed in (decorrelated noise; not the single-process draws, which cover the whole batch)."""
        from denoisebench.training.distributed import current

        rank = current()
        key = [self.seed, step, 7, rank.rank] if rank.distributed else [self.seed, step, 7]
        return int(np.random.SeedSequence(key).generate_state(1, np.uint64)[0] >> np.uint64(1))

    def __call__(self, clean: torch.Tensor, step: int) -> tuple[torch.Tensor, torch.Tensor]:
        if self.name in self.TORCH:
            gen = torch.Generator(device=clean.device).manual_seed(self._seed(step))
            return self.TORCH[self.name](self.noise, clean, gen)
        rng = np.random.default_rng(self._seed(step))
        pairs = [_sigma_cbdnet_patch(self.noise, p.transpose(1, 2, 0), rng) for p in clean.detach().cpu().numpy()]
        noisy = np.stack([a.transpose(2, 0, 1) for a, _ in pairs])
        sigma = np.stack([b.transpose(2, 0, 1) for _, b in pairs])
        return (torch.from_numpy(noisy).to(clean.device, clean.dtype),
                torch.from_numpy(sigma).to(clean.device, clean.dtype))


# ---------------------------------------------------------------------------------------------------------------
# The hook


def make_loss_fn(objective: Objective, synth: SigmaMapNoise | None = None) -> Callable[..., tuple[torch.Tensor, Logs]]:
    """The trainer's ``loss_fn(model, noisy, clean, step)`` for ``objective`` (model: an :class:`MTLNetwork`).

    With ``synth`` the noisy input and the true sigma map are drawn here (the trainer's ``noisy`` is ignored).
    Logs: ``loss`` (what is minimised), ``mse`` (MSE of the output used this step), every task loss ``L_*`` of
    that output, weights ``w_*`` (s1; ``s_*`` for Kendall), the share of steps per task ``task_*`` (s2), and
    CBDNet's ``asym``/``tv`` terms.
    """
    strategy = STRATEGIES.get(objective.strategy)

    def loss_fn(model: MTLNetwork, noisy: torch.Tensor, clean: torch.Tensor, step: int) -> tuple[torch.Tensor, Logs]:
        sigma_true = None
        if synth is not None:
            noisy, sigma_true = synth(clean, step)
        loss, parts, logs = strategy(model, objective, noisy, clean, step)
        if objective.sigma_terms is not None and "sigma" in parts and sigma_true is not None:
            terms = objective.sigma_terms
            asym = asymmetric_loss(parts["sigma"], sigma_true, terms["asym_alpha"])
            tv = tv_loss(parts["sigma"])
            loss = loss + terms["asym_weight"] * asym + terms["tv_weight"] * tv
            logs["asym"], logs["tv"] = asym.detach(), tv.detach()
        logs["mse"] = torch.mean((parts["out"].detach().float() - clean.float()) ** 2)
        logs["loss"] = loss.detach()
        return loss, logs

    return loss_fn


class History:
    """Training curves as CSV: every logged step's values (averaged over the log window) and validation metrics,
    rewritten atomically as ``history.csv``. On resume, rows at or after the first step seen again are replaced.
    The rows are also part of the trainer's resume state (``state_dict``), so a resume does not depend on the CSV
    left in ``out_dir`` (which ``dvc exp run`` restores from ``dvc.lock`` before it runs). The per-step weights of
    strategy 1 are :class:`WeightTrace`'s ``weights.csv``.
    """

    def __init__(self, out_dir: Path) -> None:
        from denoisebench.curves import read_step_csv

        self.path = Path(out_dir) / "history.csv"
        self.rows = read_step_csv(self.path)
        self._fresh = True

    def state_dict(self) -> dict[str, Any]:
        """The recorded rows (saved in the trainer's ``state.pt``)."""
        return {"rows": {step: dict(row) for step, row in self.rows.items()}}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore the rows of a resumed checkpoint (replacing those read from the CSV)."""
        self.rows = {int(step): dict(row) for step, row in state["rows"].items()}
        self._fresh = True

    def record(self, step: int, values: dict[str, float]) -> None:
        if not values:
            return
        if self._fresh:
            self.rows = {s: r for s, r in self.rows.items() if s < step}
            self._fresh = False
        self.rows.setdefault(step, {}).update({k: float(v) for k, v in values.items()})
        self._write()

    def _write(self) -> None:
        from denoisebench.curves import write_step_csv

        write_step_csv(self.path, self.rows, sorted({k for r in self.rows.values() for k in r}))

    def callback(self, step: int, logs: dict[str, float]) -> None:
        """Trainer callback: records the averaged logs of each log step."""
        self.record(step, {k: v for k, v in logs.items() if k != "lr"})

    def wrap_validator(self, validate: Callable[[nn.Module, int], dict[str, float]]) -> Callable[..., dict[str, float]]:
        """A validator that also records its metrics."""

        def wrapped(model: nn.Module, step: int) -> dict[str, float]:
            metrics = validate(model, step)
            self.record(step, metrics)
            return metrics

        return wrapped


class WeightTrace:
    """The strategy-1 weights of every training step as ``weights.csv`` (a trainer callback).

    Columns: ``step`` and the weighting's :meth:`~denoisebench.papers.p000_mtl_slw.weighting.Weighting.step_record`
    (``w_*``; for the min-norm weightings also the raw gradient norms ``gnorm_*`` and the normalisation divisors
    ``n_*``; for Kendall's ``s_*``). One line is appended per step; on resume, the rows at or after the first step
    seen again are dropped once, so the file always holds one row per step of the (possibly resumed) run. The
    lines are part of the trainer's resume state too, so a resume does not depend on the CSV in ``out_dir``.
    """

    def __init__(self, out_dir: Path, weighting: Weighting) -> None:
        self.path, self.weighting = Path(out_dir) / "weights.csv", weighting
        self.columns: list[str] | None = None
        self.lines: list[tuple[int, str]] = []
        self._restored = self._started = False

    def state_dict(self) -> dict[str, Any]:
        """Columns and lines written so far (saved in the trainer's ``state.pt``)."""
        return {"columns": self.columns, "lines": list(self.lines)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore a resumed checkpoint's lines; the file is rewritten from them at the next step."""
        self.columns = state["columns"]
        self.lines = [(int(step), str(line)) for step, line in state["lines"]]
        self._restored = True

    def _start(self, step: int, record: dict[str, float]) -> None:
        """First step of this process: keep earlier rows (from the resume state, else the file), drop the rest."""
        if not self._restored:
            self.columns = sorted(record)
            if self.path.is_file():
                rows = csv.DictReader(io.StringIO(self.path.read_text(encoding="utf-8")))
                self.lines = [(int(r["step"]), ",".join([r["step"], *[r.get(c) or "" for c in self.columns]]))
                              for r in rows if r.get("step", "").isdigit()]
        self.lines = [(s, line) for s, line in self.lines if s < step]
        assert self.columns is not None
        text = "".join(line + "\n" for _, line in self.lines)
        write_text_atomic(self.path, ",".join(["step", *self.columns]) + "\n" + text)
        self._restored, self._started = False, True

    def callback(self, step: int, logs: dict[str, float]) -> None:
        """Trainer callback (every step): appends the weights used at ``step``."""
        record = self.weighting.step_record()
        if not record:
            return
        if not self._started:
            self._start(step, record)
        assert self.columns is not None
        line = ",".join([str(step), *[("%.6g" % record[c]) if c in record else "" for c in self.columns]])
        self.lines.append((step, line))
        with self.path.open("a", encoding="utf-8") as fh:
            fh.write(line + "\n")

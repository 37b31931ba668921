"""Loss weightings of strategy 1 (one network, all sub-task losses combined), registered in :data:`WEIGHTINGS`.

The paper: "a linear layer output to perform a weighted sum for different tasks, and the weights alpha are
automatically optimized through network training", with the objective of its eq. 7,
argmin over alpha, theta_s of || sum_t alpha_t grad_{theta_s} L_t || (the MGDA form of Sener & Koltun, its [22]).
Learning an unconstrained alpha by descending sum_t alpha_t L_t collapses (alpha -> 0 or -inf), so:

- ``slw`` (the faithful reading, method-specs 3(b)): alpha = softmax(w), w the bias-free weight layer; every
  step, w takes ``inner_steps`` gradient steps (rate ``lr``) on the min-norm objective alpha^T G alpha, G the Gram
  matrix of the per-task gradients of the shared parameters after the gradient normalisation ``grad_norm`` (then
  scaled by the mean of its diagonal so ``lr`` is scale-free); theta is then updated with the weighted losses,
  alpha detached. w persists across steps, so alpha is learned, not re-solved.
- ``mgda``: the exact min-norm alpha of every batch (Sener & Koltun's Frank-Wolfe solver), an ablation.
- ``uncertainty``: Kendall et al. (the paper's [17]): sum_t exp(-s_t) L_t + s_t with learnable s_t.
- ``equal``: fixed alpha_t = 1/T, the control.

Gradient normalisations of the min-norm weightings (:data:`GRAD_NORMS`; Sener & Koltun's official code,
``gradient_normalizers`` in ``multi_task/min_norm_solvers.py``, divides each task gradient g_t by n_t before the
min-norm solve): ``none`` n_t = 1; ``l2`` n_t = ||g_t||; ``loss`` n_t = L_t; ``loss+`` n_t = L_t ||g_t||, with the
current batch's loss and gradient. Default ``l2``, the only one that is invariant to each loss's units (MSE of
[0, 1] data, 1 - SSIM and a KL in nats differ by orders of magnitude) and does not presume a loss's minimum is 0
(the KL's is not, for non-Gaussian noise); see docs/paper_000.md.

Combination. With ``normalize`` (default, all but ``uncertainty``) every task is put on task 0's (the MSE's)
scale: the min-norm weightings minimise sum_t alpha_t (n_0 / n_t) L_t (n detached), whose gradient is n_0 times the
min-norm element of the normalised gradients (the common descent direction MGDA guarantees), and ``equal``
minimises sum_t alpha_t (Lbar_0 / Lbar_t) L_t with running means Lbar (EMA). alpha = (1, 0, 0) gives exactly the
MSE loss either way. ``normalize: false`` uses sum_t alpha_t L_t (what the official MGDA code back-propagates).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, ClassVar

import torch
from torch import nn

from denoisebench.errors import ConfigError
from denoisebench.registry import Registry

WEIGHTINGS: Registry[type[Weighting]] = Registry("loss weighting")


def min_norm_weights(gram: torch.Tensor, iterations: int = 250, tol: float = 1e-10) -> torch.Tensor:
    """The point of the simplex minimising alpha^T G alpha (the min-norm element of the gradients' convex hull).

    Two tasks use the closed form alpha_1 = clip((g2 - g1).g2 / |g1 - g2|^2, 0, 1); more tasks use Frank-Wolfe
    with exact line search (Sener & Koltun 2018, Algorithm 2), starting from uniform weights.
    """
    g = gram.double()
    t = g.shape[0]
    if g.shape != (t, t) or t < 1:
        raise ValueError(f"min_norm_weights: need a square Gram matrix, got shape {tuple(gram.shape)}")
    if t == 1:
        return torch.ones(1, dtype=gram.dtype, device=gram.device)
    if t == 2:
        denom = g[0, 0] - 2 * g[0, 1] + g[1, 1]
        a = torch.clamp((g[1, 1] - g[0, 1]) / denom, 0.0, 1.0) if denom > 0 else torch.tensor(0.5, dtype=g.dtype)
        return torch.stack([a, 1 - a]).to(gram.dtype)
    alpha = torch.full((t,), 1.0 / t, dtype=g.dtype, device=g.device)
    for _ in range(iterations):
        g_alpha = g @ alpha
        k = int(torch.argmin(g_alpha))
        a, b, c = alpha @ g_alpha, g_alpha[k], g[k, k]
        denom = a - 2 * b + c
        gamma = torch.clamp((a - b) / denom, 0.0, 1.0) if denom > 0 else torch.tensor(0.0, dtype=g.dtype)
        step = gamma * (torch.nn.functional.one_hot(torch.tensor(k), t).to(g.dtype) - alpha)
        alpha = alpha + step
        if float(step.abs().sum()) < tol:
            break
    return alpha.to(gram.dtype)


GradNorm = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
#: Gradient normalisations of the min-norm weightings: (batch losses (T,), gradient norms (T,)) -> divisors n_t.
GRAD_NORMS: Registry[GradNorm] = Registry("gradient normalisation")
GRAD_NORMS.add("none", lambda losses, norms: torch.ones_like(norms))  # raw gradients (the MGDA paper)
GRAD_NORMS.add("l2", lambda losses, norms: norms)  # unit gradients: only their directions count
GRAD_NORMS.add("loss", lambda losses, norms: losses)  # g_t / L_t = grad log L_t: relative progress
GRAD_NORMS.add("loss+", lambda losses, norms: losses * norms)  # the official code's sample configuration
#: The default normalisation (scale-invariant per task; docs/paper_000.md says why).
DEFAULT_GRAD_NORM = "l2"


def normalized_gram(gram: torch.Tensor, losses: torch.Tensor, grad_norm: str) -> tuple[torch.Tensor, torch.Tensor]:
    """The Gram matrix of the normalised gradients g_t / n_t and the divisors n (T,), for ``grad_norm``.

    ``gram`` is the raw Gram matrix G_ij = g_i . g_j (so ||g_t|| = sqrt(G_tt)); ``losses`` the batch task losses.
    Divisors are floored at 1e-12 (a zero gradient or loss stays zero instead of dividing by zero).
    """
    g = gram.detach().double()
    norms = g.diagonal().clamp_min(0.0).sqrt()
    n = GRAD_NORMS.get(grad_norm)(losses.detach().double().to(g.device), norms).clamp_min(1e-12)
    return g / torch.outer(n, n), n


class Weighting(nn.Module):
    """Base class: running loss means (for normalisation) and the combination sum_t alpha_t L_t.

    Args:
        tasks: task names, in the order of the loss vectors (task 0 sets the scale: the MSE).
        normalize: scale each task by Lbar_0 / Lbar_t (running means) in the combination.
        ema: decay of the running means.

    Subclasses implement :meth:`alpha` and set ``needs_gradients`` when they read the per-task Gram matrix.
    :meth:`step_record` gives the values of the latest step (``w_*``, ...), for the per-step ``weights.csv``.
    """

    needs_gradients: ClassVar[bool] = False
    default_normalize: ClassVar[bool] = True

    def __init__(self, tasks: Sequence[str], normalize: bool | None = None, ema: float = 0.99) -> None:
        super().__init__()
        if len(tasks) < 1:
            raise ConfigError("loss weighting: need at least one task")
        if not 0.0 <= ema < 1.0:
            raise ConfigError(f"loss weighting: ema={ema} must be in [0, 1)")
        self.tasks = tuple(tasks)
        self.normalize = self.default_normalize if normalize is None else bool(normalize)
        self.ema = float(ema)
        self.register_buffer("running", torch.ones(len(tasks)))
        self.register_buffer("seen", torch.zeros((), dtype=torch.long))
        self._record: dict[str, float] = {}

    def _update_running(self, losses: torch.Tensor) -> None:
        """Running loss averages of the whole batch (averaged over the ranks under data-parallel training)."""
        from denoisebench.training.distributed import all_mean

        with torch.no_grad():
            value = all_mean(losses.detach().float()).clamp_min(1e-12).to(self.running.device)
            if int(self.seen) == 0:
                self.running.copy_(value)
            else:
                self.running.mul_(self.ema).add_((1.0 - self.ema) * value)
            self.seen += 1

    def scales(self) -> torch.Tensor:
        """Per-task factors applied to the losses: Lbar_0 / Lbar_t with ``normalize``, else ones."""
        if not self.normalize:
            return torch.ones_like(self.running)
        return self.running[0] / self.running

    def alpha(self, gram: torch.Tensor | None) -> torch.Tensor:
        """The task weights (T,) for this step; they sum to 1."""
        raise NotImplementedError

    def _check(self, losses: torch.Tensor, gram: torch.Tensor | None) -> None:
        if losses.shape != (len(self.tasks),):
            raise ValueError(f"loss weighting: expected {len(self.tasks)} task losses, got shape {tuple(losses.shape)}")
        if self.needs_gradients and gram is None:
            raise ValueError(f"loss weighting {type(self).__name__}: needs the Gram matrix of the task gradients")

    def _remember(self, alpha: torch.Tensor, **per_task: torch.Tensor) -> None:
        """Keep this step's ``w_<task>`` (and ``<key>_<task>`` per extra per-task tensor) for :meth:`step_record`."""
        values = {"w": alpha, **per_task}
        self._record = {f"{key}_{t}": float(v[i]) for key, v in values.items() for i, t in enumerate(self.tasks)}

    def forward(self, losses: torch.Tensor, gram: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Combined loss and the (detached) weights, from the (T,) task losses and the raw Gram matrix."""
        self._check(losses, gram)
        self._update_running(losses)
        scales = self.scales().to(losses.dtype)
        alpha = self.alpha(gram).detach().to(losses.dtype)
        self._remember(alpha)
        return (alpha * scales * losses).sum(), alpha

    def step_record(self) -> dict[str, float]:
        """The latest step's weights (``w_*``) and the weighting's other per-step values; {} before the first step."""
        return dict(self._record)

    def extra_logs(self) -> dict[str, torch.Tensor]:
        """Additional per-task quantities to log (e.g. Kendall's s_t)."""
        return {}


@WEIGHTINGS.register("equal")
class EqualWeighting(Weighting):
    """Fixed alpha_t = 1/T (the control)."""

    def alpha(self, gram: torch.Tensor | None) -> torch.Tensor:
        return torch.full((len(self.tasks),), 1.0 / len(self.tasks), device=self.running.device)


class MinNormWeighting(Weighting):
    """Weights from the min-norm problem of eq. 7 on the normalised task gradients g_t / n_t (see module doc).

    Args:
        grad_norm: a name of :data:`GRAD_NORMS` (``none``, ``l2``, ``loss``, ``loss+``).
        normalize: combine as sum_t alpha_t (n_0 / n_t) L_t (default) instead of sum_t alpha_t L_t.

    Per-step record: ``w_*``, the raw gradient norms ``gnorm_*`` and the divisors ``n_*``.
    """

    needs_gradients = True

    def __init__(self, tasks: Sequence[str], normalize: bool | None = None, grad_norm: str = DEFAULT_GRAD_NORM) -> None:
        super().__init__(tasks, normalize)
        if grad_norm not in GRAD_NORMS:
            raise ConfigError(f"{type(self).__name__}: grad_norm={grad_norm!r} is not one of "
                              f"{', '.join(GRAD_NORMS.names())} (weighting_params.grad_norm)")
        self.grad_norm = grad_norm

    def forward(self, losses: torch.Tensor, gram: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        from denoisebench.training.distributed import all_mean

        self._check(losses, gram)
        assert gram is not None
        self._update_running(losses)
        g_hat, n = normalized_gram(gram, all_mean(losses.detach()), self.grad_norm)  # the full batch's losses
        alpha = self.alpha(g_hat.float()).detach().to(losses.dtype)
        scales = (n[0] / n if self.normalize else torch.ones_like(n)).to(losses.device, losses.dtype)
        self._remember(alpha, gnorm=gram.detach().diagonal().clamp_min(0).sqrt(), n=n)
        return (alpha * scales * losses).sum(), alpha


@WEIGHTINGS.register("mgda")
class MGDAWeighting(MinNormWeighting):
    """Exact min-norm weights of every batch (Sener & Koltun); an ablation of ``slw``."""

    def alpha(self, gram: torch.Tensor | None) -> torch.Tensor:
        assert gram is not None
        return min_norm_weights(gram)


@WEIGHTINGS.register("slw")
class SelfLearningWeight(MinNormWeighting):
    """The paper's self-learning weight layer: alpha = softmax(w), w descending the min-norm objective of eq. 7.

    Args:
        lr: step size of w's gradient descent.
        inner_steps: descent steps of w per training step.
    """

    def __init__(self, tasks: Sequence[str], normalize: bool | None = None, grad_norm: str = DEFAULT_GRAD_NORM,
                 lr: float = 0.1, inner_steps: int = 1) -> None:
        super().__init__(tasks, normalize, grad_norm)
        if lr <= 0 or inner_steps < 1:
            raise ConfigError(f"slw weighting: need lr > 0 and inner_steps >= 1, got lr={lr}, inner_steps={inner_steps}")
        self.lr, self.inner_steps = float(lr), int(inner_steps)
        self.register_buffer("logits", torch.zeros(len(tasks)))  # w, updated by its own rule (not the optimizer)

    def min_norm_step(self, gram: torch.Tensor) -> None:
        """``inner_steps`` gradient steps of w on alpha^T G alpha, G scaled by the mean of its diagonal."""
        g = gram.float().to(self.logits.device)
        g = g / g.diagonal().mean().clamp_min(1e-30)
        with torch.enable_grad():
            w = self.logits.detach().clone().requires_grad_(True)
            for _ in range(self.inner_steps):
                a = torch.softmax(w, dim=0)
                (grad,) = torch.autograd.grad(a @ g @ a, w)
                w = (w - self.lr * grad).detach().requires_grad_(True)
        self.logits.copy_(w.detach())

    def alpha(self, gram: torch.Tensor | None) -> torch.Tensor:
        assert gram is not None
        self.min_norm_step(gram)
        return torch.softmax(self.logits, dim=0)


@WEIGHTINGS.register("uncertainty")
class UncertaintyWeighting(Weighting):
    """Kendall, Gal & Cipolla 2018: L = sum_t exp(-s_t) L_t + s_t, s_t learnable (trained with the network).

    The logged alpha is exp(-s_t) normalised to sum 1; the raw s_t are logged too.
    """

    default_normalize = False

    def __init__(self, tasks: Sequence[str], normalize: bool | None = None, ema: float = 0.99,
                 init: float = 0.0) -> None:
        super().__init__(tasks, normalize, ema)
        self.log_vars = nn.Parameter(torch.full((len(tasks),), float(init)))

    def alpha(self, gram: torch.Tensor | None) -> torch.Tensor:
        return torch.softmax(-self.log_vars.detach(), dim=0)

    def forward(self, losses: torch.Tensor, gram: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        self._update_running(losses)
        s = self.log_vars.to(losses.dtype)
        total = (torch.exp(-s) * self.scales().to(losses.dtype) * losses + s).sum()
        alpha = self.alpha(None)
        self._remember(alpha, s=self.log_vars.detach())
        return total, alpha

    def extra_logs(self) -> dict[str, torch.Tensor]:
        return {f"s_{t}": self.log_vars.detach()[i] for i, t in enumerate(self.tasks)}


def build_weighting(name: str, tasks: Sequence[str], **params: Any) -> Weighting:
    """The registered weighting ``name`` for ``tasks``; bad parameters raise ConfigError naming them."""
    cls = WEIGHTINGS.get(name)
    try:
        return cls(tasks, **params)
    except TypeError as exc:
        raise ConfigError(f"loss weighting {name!r}: {exc}") from exc

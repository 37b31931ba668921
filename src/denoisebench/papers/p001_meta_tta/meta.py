"""Paper 001's three stages as functions of a :class:`~.network.MetaTTANet` and tensors (method-specs 4(c)).

- :func:`plain_step`: Table 1's non-MAXL rows: one Adam step of the multi-task net on L_Pri + L_Aux.
- :func:`maxl_aux_step` / :func:`maxl_mask_step`: Stage 1 (Alg. 1, MAXL), the auxiliary-training step (theta1 by
  Adam on L_Pri + L_Aux, the mask's gradients discarded) and the meta-training step (theta2 by Adam on
  L_Pri(theta1+) + lambda_G L_G, theta1+ = theta1 - alpha grad L a one-step SGD look-ahead with
  ``create_graph=True``, so the mask's gradient is second order).
- :func:`mtl_step`: Stage 2 (Alg. 2), MAML over the head tensors (or every multi-task parameter: Table 3's
  body+head row), K inner steps chained with the graph kept (true second-order MAML); the outer loss
  lambda_out * sum_j L_Pri over the meta-batch updates the whole multi-task net and the mask net.
- :func:`meta_test`: Stage 3 (Alg. 3), per-image adaptation of the heads on L_Aux with the binarised mask, the
  body frozen; returns the output before and after adaptation.

Look-ahead forwards use :func:`torch.func.functional_call` with a dict of the substituted tensors; the graph from
the substituted tensors back to the module's own parameters is what carries the second-order terms.

Data parallel (under ``torchrun``; :mod:`denoisebench.training.distributed`): each rank passes its slice of the
step's batch; the training steps combine the ranks' gradients after ``backward()``
(:func:`~denoisebench.training.distributed.reduce_gradients`: the mean for the stage-1 losses, means over the
batch; the sum for stage 2's outer loss, a sum over the meta-batch of per-sample terms) and MAXL's look-ahead uses
the full batch's gradient (the ranks' mean, differentiable), so N processes follow one process with the whole
batch. DDP itself cannot wrap these steps: it does not support ``torch.autograd.grad``. In one process all of
this is a no-op.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field

import torch
from torch.func import functional_call

from denoisebench.papers.p001_meta_tta.losses import LAMBDA_G, auxiliary_loss, gradient_loss, primary_loss
from denoisebench.papers.p001_meta_tta.network import HEAD_PREFIXES, MetaTTANet
from denoisebench.training import distributed

#: Tensors adapted in the inner loop: the heads (paper) or every multi-task parameter (Table 3, bottom row).
INNER_SCOPES = ("heads", "all")


def net_params(model: MetaTTANet, scope: str = "all") -> dict[str, torch.Tensor]:
    """The multi-task net's parameters by name (relative to ``model.net``): all, or the heads only."""
    if scope not in INNER_SCOPES:
        raise ValueError(f"inner scope {scope!r} is not one of {', '.join(INNER_SCOPES)}")
    return {n: p for n, p in model.net.named_parameters() if scope == "all" or n.startswith(HEAD_PREFIXES)}


def plain_step(model: MetaTTANet, opt: torch.optim.Optimizer, noisy: torch.Tensor, clean: torch.Tensor,
               aux: str = "rl") -> dict[str, float]:
    """L_Pri + L_Aux by one step of ``opt`` (over the multi-task net); the mask is used as is (``mrl``)."""
    clean_pred, noisy_pred = model.net(noisy)
    with torch.no_grad():
        mask = model.mask(noisy)
    pri = primary_loss(clean_pred, clean)
    loss = pri + auxiliary_loss(aux, noisy_pred, noisy, mask)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    distributed.reduce_gradients(model.net.parameters(), "mean")
    opt.step()
    return {"loss": float(loss.detach()), "l_pri": float(pri.detach())}


def maxl_aux_step(model: MetaTTANet, opt1: torch.optim.Optimizer, noisy: torch.Tensor, clean: torch.Tensor,
                  aux: str = "mrl") -> dict[str, float]:
    """Alg. 1, first loop: theta1 <- Adam step on L_Pri + L_Aux(M) (M not detached; its gradients are dropped)."""
    clean_pred, noisy_pred = model.net(noisy)
    mask = model.mask(noisy)
    pri = primary_loss(clean_pred, clean)
    loss = pri + auxiliary_loss(aux, noisy_pred, noisy, mask)
    opt1.zero_grad(set_to_none=True)
    loss.backward(inputs=list(model.net.parameters()))
    distributed.reduce_gradients(model.net.parameters(), "mean")
    opt1.step()
    return {"loss": float(loss.detach()), "l_pri": float(pri.detach())}


def lookahead_mask_loss(model: MetaTTANet, noisy: torch.Tensor, clean: torch.Tensor, alpha: float,
                        aux: str = "mrl", lambda_g: float = LAMBDA_G) -> torch.Tensor:
    """Alg. 1, second loop's objective: L_Pri(f_{theta1+}(noisy)) + lambda_G L_G(M, noisy), where
    theta1+ = theta1 - alpha grad_theta1 (L_Pri + L_Aux(M)) keeps its graph (second order in the mask's params).
    Data parallel, the look-ahead gradient is the full batch's: the mean of the ranks' (differentiable)."""
    params = net_params(model, "all")
    clean_pred, noisy_pred = model.net(noisy)
    mask = model.mask(noisy)
    loss = primary_loss(clean_pred, clean) + auxiliary_loss(aux, noisy_pred, noisy, mask)
    grads = distributed.all_reduce_flat(torch.autograd.grad(loss, list(params.values()), create_graph=True,
                                                            allow_unused=True), "mean", differentiable=True)
    ahead = {n: p if g is None else p - alpha * g for (n, p), g in zip(params.items(), grads)}
    clean_ahead = functional_call(model.net, ahead, (noisy,))[0]
    return primary_loss(clean_ahead, clean) + lambda_g * gradient_loss(mask, noisy)


def maxl_mask_step(model: MetaTTANet, opt2: torch.optim.Optimizer, noisy: torch.Tensor, clean: torch.Tensor,
                   alpha: float, aux: str = "mrl", lambda_g: float = LAMBDA_G) -> dict[str, float]:
    """Alg. 1, second loop: theta2 <- Adam step on :func:`lookahead_mask_loss` (theta1 unchanged)."""
    loss = lookahead_mask_loss(model, noisy, clean, alpha, aux, lambda_g)
    opt2.zero_grad(set_to_none=True)
    loss.backward(inputs=list(model.mask.parameters()))
    distributed.reduce_gradients(model.mask.parameters(), "mean")
    opt2.step()
    return {"mask_loss": float(loss.detach())}


def inner_adapt(model: MetaTTANet, noisy: torch.Tensor, steps: int, alpha: float, weight: float,
                scope: str = "heads", aux: str = "mrl", create_graph: bool = True) -> dict[str, torch.Tensor]:
    """Alg. 2's inner loop on one sample: ``steps`` chained SGD steps theta' <- theta' - alpha grad(weight L_Aux)
    over the ``scope`` tensors (the soft mask of the current mask net); returns the adapted tensors, connected to
    the originals by the graph when ``create_graph``."""
    adapted = net_params(model, scope)
    mask = model.mask(noisy)
    for _ in range(steps):
        _, noisy_pred = functional_call(model.net, adapted, (noisy,))
        loss = weight * auxiliary_loss(aux, noisy_pred, noisy, mask)
        grads = torch.autograd.grad(loss, list(adapted.values()), create_graph=create_graph, allow_unused=True)
        adapted = {n: p if g is None else p - alpha * g for (n, p), g in zip(adapted.items(), grads)}
    return adapted


def mtl_outer_loss(model: MetaTTANet, noisy: torch.Tensor, clean: torch.Tensor, steps: int, alpha: float,
                   inner_weight: float = 10.0, outer_weight: float = 10.0, scope: str = "heads",
                   aux: str = "mrl") -> torch.Tensor:
    """lambda_out * sum over the meta-batch of L_Pri after each sample's own inner adaptation (Alg. 2)."""
    total = noisy.new_zeros(())
    for j in range(noisy.shape[0]):
        x, y = noisy[j:j + 1], clean[j:j + 1]
        adapted = inner_adapt(model, x, steps, alpha, inner_weight, scope, aux)
        total = total + primary_loss(functional_call(model.net, adapted, (x,))[0], y)
    return outer_weight * total


def mtl_step(model: MetaTTANet, opt: torch.optim.Optimizer, noisy: torch.Tensor, clean: torch.Tensor, steps: int,
             alpha: float, inner_weight: float = 10.0, outer_weight: float = 10.0, scope: str = "heads",
             aux: str = "mrl") -> dict[str, float]:
    """One meta-transfer update: backpropagate :func:`mtl_outer_loss` into every parameter; one ``opt`` step.

    Data parallel, each rank's outer loss sums over its slice of the meta-batch and the gradients are summed over
    the ranks; the logged ``loss`` is this rank's sum times the world size, so the mean over the ranks that the
    training loop logs is the meta-batch's sum (``l_pri``, a per-sample mean, averages as it is)."""
    loss = mtl_outer_loss(model, noisy, clean, steps, alpha, inner_weight, outer_weight, scope, aux)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    distributed.reduce_gradients(model.parameters(), "sum")
    opt.step()
    value = float(loss.detach())
    return {"loss": value * distributed.current().world_size, "l_pri": value / (outer_weight * noisy.shape[0])}




@dataclass
class MetaTestResult:
    """Output of one meta-test: the estimate before adaptation, after, the mask used and timings."""

    before: torch.Tensor
    after: torch.Tensor
    mask: torch.Tensor
    updates: int
    adapt_seconds: float
    aux_losses: list[float] = field(default_factory=list)


#: Meta-test variants: ``code`` = the official validate(): Adam, 5 iterations whose last forward precedes the 5th
#: update (4 updates reach the output), the first primary-head conv frozen by its freeze loop (49,536 of the 58,752
#: head parameters adapted); ``paper`` = Alg. 3: K plain gradient steps on all 9 head tensors, output after them.
META_TEST_VARIANTS = ("code", "paper")


def meta_test(model: MetaTTANet, noisy: torch.Tensor, variant: str = "code", steps: int = 5, lr: float = 1e-5,
              aux: str = "mrl", binarize: bool = True) -> MetaTestResult:
    """Adapt a copy of the heads to one noisy image (1, C, H, W) on L_Aux; the model itself is left untouched.

    The body and the mask net are frozen, so their outputs are computed once; only the heads run per step.
    The estimate after adaptation is clamped to [0, 1]; the one before is returned as the network gives it, as the
    official ``validate`` stores it (ahead of its clamp): score it with ``ttaid_before`` for the official number.
    """
    if variant not in META_TEST_VARIANTS:
        raise ValueError(f"meta-test variant {variant!r} is not one of {', '.join(META_TEST_VARIANTS)}")
    start = time.perf_counter()
    net = model.net
    with torch.no_grad():
        feat = net.body(noisy)
        mask = model.mask(noisy)
    heads = {n: p.detach().clone() for n, p in net_params(model, "heads").items()}
    frozen = {next(iter(heads))} if variant == "code" else set()  # the code's freeze loop quirk
    trainable = [p.requires_grad_(True) for n, p in heads.items() if n not in frozen]
    opt: torch.optim.Optimizer = (torch.optim.Adam(trainable, lr=lr) if variant == "code"
                                  else torch.optim.SGD(trainable, lr=lr))
    iterations = steps if variant == "code" else steps + 1  # the last pass only produces the output
    outputs: list[torch.Tensor] = []
    losses: list[float] = []
    updates = 0
    for it in range(iterations):
        clean_pred, noisy_pred = _heads_forward(net, heads, feat, noisy)
        outputs.append(clean_pred.detach())
        if it == iterations - 1 and variant == "paper":
            break
        loss = auxiliary_loss(aux, noisy_pred, noisy, mask, binarize)
        losses.append(float(loss.detach()))
        if it == iterations - 1:  # code: the reported estimate is this iteration's forward, before its update
            break
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        updates += 1
    seconds = time.perf_counter() - start
    return MetaTestResult(outputs[0], outputs[-1].clamp(0, 1), mask, updates, seconds, losses)


def _heads_forward(net: torch.nn.Module, heads: dict[str, torch.Tensor], feat: torch.Tensor,
                   noisy: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The heads of ``net`` (either architecture) on precomputed body features, with substituted tensors."""
    return functional_call(net, heads, (noisy,), {"feat": feat})


def head_parameter_count(model: MetaTTANet, variant: str = "paper") -> int:
    """Head parameters adapted at meta-test: all 9 tensors (``paper``), or without the first one (``code``)."""
    tensors: Iterable[torch.Tensor] = net_params(model, "heads").values()
    counts = [t.numel() for t in tensors]
    return sum(counts[1:]) if variant == "code" else sum(counts)

"""Data-parallel training with PyTorch DDP under ``torchrun``: process group, ranks, batch shards, the launcher.

One process per device, started by ``torchrun`` (``python -m torch.distributed.run``), which sets ``RANK``,
``LOCAL_RANK``, ``WORLD_SIZE`` and the rendezvous address. :func:`process_group` joins the group (NCCL for CUDA,
gloo for CPU) when ``WORLD_SIZE`` > 1 and leaves it afterwards; outside ``torchrun`` everything here describes a
single process (rank 0 of 1), so callers need no special case.

Reproducibility: ``batch_size`` stays the *effective* batch of one optimiser step. Every rank draws the same full
batch of step ``s`` from the seeded stream (``(seed, s)``, as a single process does) and trains on its own
contiguous slice :func:`shard` (``batch_size / world_size`` patches; slices are disjoint and cover the batch). DDP
averages the gradients of the per-rank mean losses, which is the gradient of the full batch's mean loss, so N
processes with ``B / N`` patches each follow the single-process run with batch ``B`` up to floating-point
summation order (BatchNorm layers are converted to :class:`torch.nn.SyncBatchNorm`, so their statistics are the
full batch's too; :class:`CPUSyncBatchNorm` on CPU).

Only rank 0 writes checkpoints, curves and MLflow runs (:func:`is_main`); every rank resumes from the same
``state.pt``.
"""

from __future__ import annotations

import contextlib
import datetime
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

import torch
import torch.distributed as dist
from torch import nn

from denoisebench.errors import ConfigError

#: Env var asking every ``train`` stage for this many processes (overrides ``train.<entry>.<profile>.nproc``).
NPROC_ENV = "DENOISEBENCH_NPROC"
#: Env vars ``torchrun`` sets in each worker; their presence means "already launched".
TORCHRUN_ENV = ("RANK", "LOCAL_RANK", "WORLD_SIZE")


@dataclass(frozen=True)
class Rank:
    """Where this process stands: ``rank`` of ``world_size`` processes, ``local_rank`` on its node."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    @property
    def main(self) -> bool:
        return self.rank == 0


def current() -> Rank:
    """This process's rank: from the joined process group, else from ``torchrun``'s env, else rank 0 of 1."""
    if dist.is_available() and dist.is_initialized():
        return Rank(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", 0)))
    env = os.environ
    if all(k in env for k in TORCHRUN_ENV):
        return Rank(int(env["RANK"]), int(env["WORLD_SIZE"]), int(env["LOCAL_RANK"]))
    return Rank()


def is_main() -> bool:
    """True on rank 0 (and in every non-distributed process): the one that writes files and MLflow runs."""
    return current().main


def launched_by_torchrun() -> bool:
    """True inside a worker that ``torchrun`` started."""
    return all(k in os.environ for k in TORCHRUN_ENV)


@contextlib.contextmanager
def process_group(device_type: str = "cpu") -> Iterator[Rank]:
    """Join the ``torchrun`` process group for the block when ``WORLD_SIZE`` > 1 (NCCL for ``cuda``, else gloo) and
    leave it afterwards; a no-op in a single process or when a group is already joined (the caller owns it)."""
    rank = current()
    if not rank.distributed or dist.is_initialized():
        yield rank
        return
    if device_type == "cuda":
        if rank.local_rank >= torch.cuda.device_count():
            raise ConfigError(f"distributed training: LOCAL_RANK={rank.local_rank} but only "
                              f"{torch.cuda.device_count()} CUDA devices are visible; lower nproc (or "
                              f"${NPROC_ENV}) to the number of GPUs or set CUDA_VISIBLE_DEVICES")
        torch.cuda.set_device(rank.local_rank)
    backend = "nccl" if device_type == "cuda" else "gloo"
    dist.init_process_group(backend, timeout=datetime.timedelta(minutes=30))
    try:
        yield current()
    finally:
        with contextlib.suppress(Exception):
            dist.barrier()  # no rank leaves while another still uses the group (e.g. rank 0 writing model.pt)
        dist.destroy_process_group()


def pin_local_device() -> None:
    """In a ``torchrun`` worker with CUDA, make ``cuda:<LOCAL_RANK>`` the current device, so code that moves
    helpers to plain ``"cuda"`` before training starts (e.g. a frozen classifier) puts them on this rank's GPU."""
    if launched_by_torchrun() and torch.cuda.is_available():
        torch.cuda.set_device(int(os.environ["LOCAL_RANK"]) % torch.cuda.device_count())


def device_for(device: torch.device, rank: Rank) -> torch.device:
    """The device of this rank: ``cuda:<local rank>`` when training on CUDA with several processes."""
    if device.type == "cuda" and rank.distributed:
        return torch.device("cuda", rank.local_rank)
    return device


def shard(batch_size: int, rank: Rank) -> slice:
    """This rank's contiguous slice of a ``batch_size`` batch (``batch_size`` must divide by the world size)."""
    if batch_size % rank.world_size:
        raise ConfigError(f"distributed training: batch_size={batch_size} (the effective batch) must be divisible by "
                          f"the {rank.world_size} processes; change batch_size or nproc")
    per = batch_size // rank.world_size
    return slice(rank.rank * per, (rank.rank + 1) * per)


#: A model attribute: True when some parameters get no gradient in some steps (e.g. task switching trains one
#: head per step); DDP then looks for them every step (an extra autograd-graph traversal), else it fails.
FIND_UNUSED_ATTR = "ddp_find_unused_parameters"


def wrap(module: nn.Module, device: torch.device, rank: Rank, find_unused: bool = False) -> nn.Module:
    """``module`` in :class:`~torch.nn.parallel.DistributedDataParallel` when distributed, else itself."""
    if not rank.distributed:
        return module
    from torch.nn.parallel import DistributedDataParallel

    ids = [device.index] if device.type == "cuda" else None
    return DistributedDataParallel(module, device_ids=ids, find_unused_parameters=find_unused)


class _AllReduceSum(torch.autograd.Function):
    """Sum over the ranks with autograd: the gradient of every rank's input is the sum of the output gradients."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor) -> torch.Tensor:
        out = x.clone()
        dist.all_reduce(out)
        return out

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> torch.Tensor:
        grad = grad.clone()
        dist.all_reduce(grad)
        return grad


class CPUSyncBatchNorm(nn.modules.batchnorm._BatchNorm):
    """BatchNorm whose training statistics are those of the whole batch across ranks, for CPU / gloo
    (:class:`torch.nn.SyncBatchNorm` is CUDA-only). Two differentiable all-reduces (the sum, then the centred
    squares) per layer and step; the running statistics are updated as :class:`torch.nn.BatchNorm2d` does
    (unbiased variance)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or not dist.is_initialized():
            return super().forward(x)
        all_reduce = _AllReduceSum.apply
        dims = [0, *range(2, x.dim())]
        shape = (1, -1, *([1] * (x.dim() - 2)))
        count = x.numel() // x.shape[1] * dist.get_world_size()
        mean = all_reduce(x.sum(dims)) / count
        centred = x - mean.view(shape)
        var = all_reduce(centred.pow(2).sum(dims)) / count
        if self.track_running_stats:
            with torch.no_grad():
                self.num_batches_tracked.add_(1)
                factor = 1.0 / float(self.num_batches_tracked) if self.momentum is None else self.momentum
                self.running_mean.mul_(1 - factor).add_(mean.detach(), alpha=factor)
                self.running_var.mul_(1 - factor).add_(var.detach() * count / max(count - 1, 1), alpha=factor)
        out = centred * torch.rsqrt(var + self.eps).view(shape)
        return out * self.weight.view(shape) + self.bias.view(shape) if self.affine else out


def sync_batchnorm(model: nn.Module, rank: Rank, device: torch.device) -> dict[str, nn.Module]:
    """Replace ``model``'s BatchNorm layers in place, when distributed, by :class:`torch.nn.SyncBatchNorm` (CUDA)
    or :class:`CPUSyncBatchNorm`; returns the replaced layers (name -> original, sharing the parameters and
    buffers) for :func:`restore_batchnorm`."""
    if not rank.distributed:
        return {}
    sync_cls = nn.SyncBatchNorm if device.type == "cuda" else CPUSyncBatchNorm
    originals: dict[str, nn.Module] = {}
    for name, child in list(model.named_modules()):
        if isinstance(child, nn.modules.batchnorm._BatchNorm) and not isinstance(child, (nn.SyncBatchNorm,
                                                                                         CPUSyncBatchNorm)):
            originals[name] = child
    for name, bn in originals.items():
        parent, _, attr = name.rpartition(".")
        sync = sync_cls(bn.num_features, bn.eps, bn.momentum, bn.affine, bn.track_running_stats)
        if bn.affine:
            sync.weight, sync.bias = bn.weight, bn.bias
        if bn.track_running_stats:
            sync.running_mean, sync.running_var = bn.running_mean, bn.running_var
            sync.num_batches_tracked = bn.num_batches_tracked
        sync.train(bn.training)
        setattr(model.get_submodule(parent) if parent else model, attr, sync)
    return originals


def restore_batchnorm(model: nn.Module, originals: dict[str, nn.Module]) -> None:
    """Put back the layers :func:`sync_batchnorm` replaced (their tensors were shared, so they hold the result)."""
    for name, bn in originals.items():
        parent, _, attr = name.rpartition(".")
        sync = model.get_submodule(name)
        if bn.track_running_stats:  # buffers may have been reassigned in place or replaced
            bn.running_mean, bn.running_var = sync.running_mean, sync.running_var
            bn.num_batches_tracked = sync.num_batches_tracked
        bn.train(sync.training)
        setattr(model.get_submodule(parent) if parent else model, attr, bn)


def all_mean(tensor: torch.Tensor) -> torch.Tensor:
    """Mean of ``tensor`` over all ranks (itself in a single process); every rank must call it in the same order."""
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return tensor
    out = tensor.detach().clone()
    dist.all_reduce(out)
    return out / dist.get_world_size()


def all_mean_differentiable(tensor: torch.Tensor) -> torch.Tensor:
    """Mean of ``tensor`` over all ranks with autograd (the gradient of each rank's input is the mean of every
    rank's output gradient): for a whole-batch quantity computed from per-rank parts inside a loss, e.g. a
    look-ahead gradient ``theta - alpha * grad`` of the full batch's loss. Itself in a single process."""
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return tensor
    return _AllReduceSum.apply(tensor) / dist.get_world_size()


def gather_batch(tensor: torch.Tensor) -> torch.Tensor:
    """Every rank's (equal-sized) slice concatenated along dim 0, in rank order: the full batch that
    :func:`shard` split (no gradient). Itself in a single process."""
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return tensor
    parts = [torch.empty_like(tensor) for _ in range(dist.get_world_size())]
    dist.all_gather(parts, tensor.detach().contiguous())
    return torch.cat(parts)


#: How :func:`reduce_gradients` combines the ranks' gradients: ``mean`` for a loss that is a mean over the batch
#: (each rank's loss is the mean over its slice), ``sum`` for a loss that sums per-sample terms.
GRADIENT_REDUCTIONS = ("mean", "sum")


def all_reduce_flat(tensors: Sequence[torch.Tensor | None], reduction: str = "mean",
                    differentiable: bool = False) -> list[torch.Tensor | None]:
    """Each tensor's mean (or sum) over the ranks, in one all-reduce of their concatenation; None entries stay None
    (they must be None on every rank). ``differentiable``: gradients flow through the reduction (a whole-batch
    quantity inside a loss). The tensors themselves in a single process."""
    if reduction not in GRADIENT_REDUCTIONS:
        raise ValueError(f"gradient reduction {reduction!r} is not one of {', '.join(GRADIENT_REDUCTIONS)}")
    present = [t for t in tensors if t is not None]
    if not present or not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return list(tensors)
    flat = torch.cat([t.reshape(-1) for t in present])
    if differentiable:
        flat = _AllReduceSum.apply(flat)
    else:
        flat = flat.detach().clone()
        dist.all_reduce(flat)
    if reduction == "mean":
        flat = flat / dist.get_world_size()
    out: list[torch.Tensor | None] = []
    offset = 0
    for t in tensors:
        if t is None:
            out.append(None)
            continue
        out.append(flat[offset:offset + t.numel()].view_as(t))
        offset += t.numel()
    return out


def reduce_gradients(params: Iterable[torch.Tensor], reduction: str = "mean") -> None:
    """What DDP does during ``backward()``, done after it: replace every ``.grad`` of ``params`` by its mean (or
    sum) over the ranks, in one all-reduce of the flattened gradients (:func:`all_reduce_flat`). For loops DDP
    cannot wrap: DDP does not support ``torch.autograd.grad`` (inner loops, look-ahead steps), which meta-learning
    needs. Parameters without a gradient are skipped (they must be the same on every rank, as they are when the
    graph's structure does not depend on the data). A no-op in a single process."""
    grads = [p.grad for p in params if p.grad is not None]
    for grad, reduced in zip(grads, all_reduce_flat(grads, reduction)):
        if reduced is not grad:
            grad.copy_(reduced)


def all_mean_dict(values: dict[str, Any], device: torch.device | str,
                  dtype: torch.dtype = torch.float32) -> dict[str, torch.Tensor]:
    """Per-key mean over the ranks of scalar values (logged losses), in one all-reduce on ``device`` (as NCCL
    needs); keys are packed in name order, so every rank packs the same. Values come back as 0-d tensors."""
    keys = sorted(values)
    stacked = all_mean(torch.stack([torch.as_tensor(values[k]).to(dtype).reshape(()).to(device) for k in keys]))
    return dict(zip(keys, stacked.unbind()))


def barrier() -> None:
    """Wait for every rank (no-op in a single process)."""
    if dist.is_available() and dist.is_initialized():
        dist.barrier()


def requested_nproc(settings: dict[str, Any], where: str = "train settings") -> int:
    """Processes asked for: ``$DENOISEBENCH_NPROC`` if set, else ``settings["nproc"]``, else 1."""
    raw: Any = os.environ.get(NPROC_ENV) or settings.get("nproc", 1)
    source = f"${NPROC_ENV}" if os.environ.get(NPROC_ENV) else f"{where}.nproc"
    try:
        value = int(raw)
    except (TypeError, ValueError):
        value = 0
    if isinstance(raw, bool) or value < 1 or str(raw).strip() != str(value):
        raise ConfigError(f"{source}={raw!r} must be a positive integer (processes per node; 1 = no DDP)")
    return value


#: Env var listing the GPU ids that concurrent stages share (e.g. "0,1,2,3"); each train stage claims free ones.
GPUS_ENV = "DENOISEBENCH_GPUS"
#: Env override of the folder of the GPU claim locks (default ``<repo root>/.denoisebench/gpu-locks``).
GPU_LOCKS_ENV = "DENOISEBENCH_GPU_LOCKS"


def gpu_lock_dir() -> Path:
    """``$DENOISEBENCH_GPU_LOCKS``, else ``<repo root>/.denoisebench/gpu-locks``: the repository root is found as
    for the checkpoints (``DVC_ROOT`` names the original repository in a queued experiment), so every queue
    worker of one repository shares the locks."""
    env = os.environ.get(GPU_LOCKS_ENV)
    if env:
        return Path(env).expanduser()
    from denoisebench.training.trainer import default_store_root

    return default_store_root().parent / "gpu-locks"


def claim_gpus(count: int, poll_s: float = 5.0, timeout_s: float | None = None) -> list[str]:
    """Claim ``count`` GPUs of ``$DENOISEBENCH_GPUS`` for this process and its children (torchrun workers) and
    set ``CUDA_VISIBLE_DEVICES`` to them; waits while fewer are free. Returns the ids ([] when the env var is
    unset: nothing is claimed, ``CUDA_VISIBLE_DEVICES`` is left alone).

    A claim is an exclusive ``flock`` on ``<lock dir>/gpu<id>.lock`` held by an inheritable descriptor, so it lasts
    until this process and every child started from it (``exec`` included) have exited, and a killed stage frees
    its GPUs. This is how ``dvc queue start -j N`` workers, which all inherit one environment, end up on
    different GPUs.
    """
    import fcntl

    raw = os.environ.get(GPUS_ENV, "").strip()
    if not raw:
        return []
    ids = [part.strip() for part in raw.split(",") if part.strip()]
    if count > len(ids):
        raise ConfigError(f"${GPUS_ENV}={raw!r} lists {len(ids)} GPU(s) but {count} are needed (nproc); list more "
                          "GPUs or lower nproc")
    folder = gpu_lock_dir()
    folder.mkdir(parents=True, exist_ok=True)
    start = time.monotonic()
    while True:
        held: list[tuple[str, int]] = []
        for gpu in ids:
            fd = os.open(folder / f"gpu{gpu}.lock", os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                continue
            held.append((gpu, fd))
            if len(held) == count:
                break
        if len(held) == count:
            for _, fd in held:
                os.set_inheritable(fd, True)
                os.ftruncate(fd, 0)
                os.write(fd, f"{os.getpid()}\n".encode())
            claimed = [gpu for gpu, _ in held]
            os.environ["CUDA_VISIBLE_DEVICES"] = ",".join(claimed)
            return claimed
        for _, fd in held:  # not enough free: release the partial claim and wait
            os.close(fd)
        if timeout_s is not None and time.monotonic() - start > timeout_s:
            raise TimeoutError(f"no {count} free GPU(s) among ${GPUS_ENV}={raw!r} after {timeout_s:.0f} s")
        time.sleep(poll_s)


def torchrun_command(nproc: int, argv: Sequence[str]) -> list[str]:
    """``torchrun --standalone --nproc_per_node=N <argv>`` run by this interpreter (``python -m
    torch.distributed.run`` is the module behind the ``torchrun`` script; the same venv inside ``dvc repro``).
    ``--standalone`` picks a free local rendezvous port, so several queued experiments can run side by side."""
    return [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}", *argv]


def relaunch_under_torchrun(nproc: int, argv: Sequence[str]) -> None:
    """Replace this process by ``torchrun`` running ``argv`` (a script path and its arguments) on ``nproc``
    processes, unless ``nproc`` is 1 or this already is a ``torchrun`` worker (then return)."""
    if nproc <= 1 or launched_by_torchrun():
        return
    cmd = torchrun_command(nproc, argv)
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(cmd[0], cmd)

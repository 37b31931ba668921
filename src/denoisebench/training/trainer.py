"""The generic supervised trainer: random clean patches, noise on the fly, checkpoints that resume exactly.

The data stream is a pure function of ``(seed, step)``: step ``s`` draws its patches with
``np.random.default_rng([seed, s, 0])`` and its noise with a torch generator seeded from ``[seed, s, 2]`` (or
``default_rng([seed, s, 1])`` for noise models without ``apply_torch``). A resumed run therefore sees exactly the
batches an uninterrupted run would, and batches can be prepared ahead in worker threads without changing them.

Files in ``out_dir``: ``state.pt`` (everything needed to resume, written atomically at the end, and every
``checkpoint_every`` steps unless a resume store is active) and ``model.pt`` (final weights, caller metadata and a
training summary, written atomically at the end).

Inside :func:`resume_store` (the ``train`` stage uses ``<repo root>/.denoisebench/checkpoints``) the intermediate
``state.pt`` goes to ``<store>/<out_dir name>/<config hash>/`` instead, outside the folder DVC tracks: ``dvc exp run``
restores tracked outputs from ``dvc.lock`` before it runs a stage, which would replace a newer ``state.pt`` in
``out_dir``. A run resumes from the newest matching state of the two places; the store's copy is removed when the
run finishes.

Data parallel (see :mod:`denoisebench.training.distributed`): under ``torchrun`` with ``WORLD_SIZE`` > 1 the model
is wrapped in DistributedDataParallel; every rank builds step ``s``'s full batch as above and trains on its own
slice of ``batch_size / world_size`` patches (``batch_size`` is the effective batch); logged values are averaged
over the ranks; only rank 0 logs to MLflow, runs validation and callbacks and writes files.
"""

from __future__ import annotations

import collections
import concurrent.futures as cf
import contextlib
import contextvars
import hashlib
import json
import logging
import os
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Protocol, Sequence

import numpy as np
import torch
from torch import nn

from denoisebench.checkpoints import CorruptCheckpointError, load_verified, with_digest
from denoisebench.fsutil import atomic_path
from denoisebench.training import distributed
from denoisebench.training.config import AMP_DTYPES, LOSSES, OPTIMIZERS, RESULT_NEUTRAL, TrainConfig
from denoisebench.training.patches import PatchSampler

log = logging.getLogger(__name__)

STATE_FILE, MODEL_FILE = "state.pt", "model.pt"
STATE_FORMAT, MODEL_FORMAT = "denoisebench-train-state/1", "denoisebench-model/1"

LossFn = Callable[[nn.Module, torch.Tensor, torch.Tensor, int], "tuple[torch.Tensor, dict[str, torch.Tensor]]"]
Validator = Callable[[nn.Module, int], "dict[str, float]"]
Callback = Callable[[int, "dict[str, float]"], None]

#: Env override of the resume store used by the ``train`` stage (default ``<repo root>/.denoisebench/checkpoints``).
STORE_ENV = "DENOISEBENCH_CHECKPOINTS"  # = denoisebench.mirror.CHECKPOINTS_ENV
_STORE: contextvars.ContextVar[Path | None] = contextvars.ContextVar("denoisebench_resume_store", default=None)


class Stateful(Protocol):
    """Caller state saved inside ``state.pt`` and restored on resume (e.g. a training-history recorder)."""

    def state_dict(self) -> dict[str, Any]: ...

    def load_state_dict(self, state: dict[str, Any]) -> None: ...


@contextlib.contextmanager
def resume_store(root: str | os.PathLike[str]) -> Iterator[Path]:
    """Within the block, :func:`train_model` keeps its intermediate ``state.pt`` under ``root`` (see module doc)."""
    path = Path(root).resolve()
    token = _STORE.set(path)
    try:
        yield path
    finally:
        _STORE.reset(token)


@contextlib.contextmanager
def entry_lock(out_dir: str | os.PathLike[str], main: bool = True) -> Iterator[None]:
    """One worker per entry: inside :func:`resume_store`, hold the entry's lock (``<store>/.locks/<out_dir
    name>.lock``, :func:`denoisebench.locks.exclusive`) for the block, so an orphaned or concurrent worker of the same
    entry is waited for (or named, see ``$DENOISEBENCH_LOCK_WAIT``) instead of writing the same state beside it.
    No store, or a rank other than 0 (its rank 0 holds it): no lock."""
    store = _STORE.get()
    if store is None or not main:
        yield
        return
    from denoisebench.locks import exclusive

    name = Path(out_dir).name
    with exclusive(store / ".locks" / f"{name}.lock", f"training entry {name}"):
        yield


def default_store_root() -> Path:
    """The resume store of the ``train`` stage: :func:`denoisebench.mirror.checkpoint_root`."""
    from denoisebench.mirror import checkpoint_root

    return checkpoint_root()


@dataclass
class TrainResult:
    """What :func:`train_model` did: the checkpoint, steps, throughput and the MLflow run."""

    model_path: Path
    steps: int
    resumed_from: int | None
    patches_per_second: float
    final_loss: float | None
    run_id: str | None
    config_hash: str
    lineage: list[dict[str, Any]]
    world_size: int = 1


def mse_loss_fn(name: str = "mse") -> LossFn:
    """The default hook: ``LOSSES[name](model(noisy), clean)``, logged as "loss"."""
    criterion = LOSSES.get(name)

    def loss_fn(model: nn.Module, noisy: torch.Tensor, clean: torch.Tensor, step: int) -> tuple[torch.Tensor, dict]:
        loss = criterion(model(noisy), clean)
        return loss, {"loss": loss.detach()}

    return loss_fn


def step_seed(seed: int, step: int, stream: int) -> int:
    """A 63-bit seed for ``stream`` of step ``step`` (independent of every other step and stream)."""
    return int(np.random.SeedSequence([seed, step, stream]).generate_state(1, np.uint64)[0] >> np.uint64(1))


def data_fingerprint(images: Sequence[np.ndarray]) -> str:
    """sha256 over the shapes and float32 bytes of the training images (part of the resume hash)."""
    digest = hashlib.sha256()
    for img in images:
        arr = np.ascontiguousarray(img, dtype=np.float32)
        digest.update(repr(arr.shape).encode())
        digest.update(arr.tobytes())
    return digest.hexdigest()


def config_hash(cfg: TrainConfig, meta: dict[str, Any], noise_params: Any, fingerprint: str) -> str:
    """Hash of everything that determines the trained weights (:data:`RESULT_NEUTRAL` fields excluded)."""
    train = {k: v for k, v in cfg.to_dict().items() if k not in RESULT_NEUTRAL}
    blob = json.dumps({"train": train, "meta": meta, "noise": noise_params, "data": fingerprint}, sort_keys=True,
                      default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


class _Batches:
    """Clean patches (and numpy noise when the noise model has no torch path) per step, optionally prefetched.

    ``part`` is this rank's slice of the batch: the full batch is drawn (the stream is sequential), numpy noise
    is applied to all of it and the slice is returned; with torch noise the full clean batch is returned and
    sliced after the noise (:func:`train_model`)."""

    def __init__(self, sampler: PatchSampler, noise: Any, cfg: TrainConfig, torch_noise: bool,
                 part: slice = slice(None)) -> None:
        self.sampler, self.noise, self.cfg, self.torch_noise, self.part = sampler, noise, cfg, torch_noise, part

    def make(self, step: int) -> tuple[np.ndarray, np.ndarray | None]:
        clean = self.sampler.sample(self.cfg.batch_size, np.random.default_rng([self.cfg.seed, step, 0]))
        if self.torch_noise:
            return clean, None
        rng = np.random.default_rng([self.cfg.seed, step, 1])
        noisy = np.stack([self.noise.apply(p.transpose(1, 2, 0), rng).transpose(2, 0, 1) for p in clean])
        return clean[self.part], noisy[self.part].astype(np.float32, copy=False)

    def iterate(self, first: int, last: int) -> Iterator[tuple[int, np.ndarray, np.ndarray | None]]:
        if self.cfg.num_workers == 0:
            for step in range(first, last + 1):
                yield (step, *self.make(step))
            return
        ahead = 2 * self.cfg.num_workers
        with cf.ThreadPoolExecutor(self.cfg.num_workers, thread_name_prefix="patches") as pool:
            queue: collections.deque = collections.deque()
            nxt = first
            while nxt <= last or queue:
                while nxt <= last and len(queue) < ahead:
                    queue.append((nxt, pool.submit(self.make, nxt)))
                    nxt += 1
                step, future = queue.popleft()
                yield (step, *future.result())


def _has_torch_noise(noise: Any, device: torch.device, channels: int) -> bool:
    """True when ``noise.apply_torch`` exists and works (NotImplementedError -> numpy path)."""
    if not hasattr(noise, "apply_torch"):
        return False
    probe = torch.full((1, channels, 8, 8), 0.5, device=device)
    try:
        noise.apply_torch(probe, torch.Generator(device=device).manual_seed(0))
    except NotImplementedError:
        return False
    return True


def _newest_state(paths: Sequence[Path], digest: str, iterations: int) -> tuple[dict[str, Any] | None, Path | None]:
    """The usable state with the highest step among ``paths`` (and where it was found)."""
    found = [(state, path) for path in paths if (state := _load_state(path, digest, iterations)) is not None]
    if not found:
        if any(path.is_file() for path in paths):
            log.warning("no usable checkpoint for config hash %s; starting fresh", digest)
        return None, None
    state, path = max(found, key=lambda item: int(item[0]["step"]))
    log.info("%s: resuming from step %d", path, state["step"])
    return state, path


def _load_state(path: Path, digest: str, iterations: int) -> dict[str, Any] | None:
    if not path.is_file():
        return None
    try:
        state = load_verified(path)
    except CorruptCheckpointError as exc:  # a corrupt file cannot be resumed; training restarts
        log.warning("%s: unreadable checkpoint (%s); ignoring it", path, exc)
        return None
    if state.get("format") != STATE_FORMAT or state.get("config_hash") != digest:
        log.warning("%s: written for another config (hash %s, now %s); ignoring it",
                    path, state.get("config_hash"), digest)
        return None
    if state["step"] > iterations:
        log.warning("%s: at step %d, beyond iterations=%d; not resuming from it", path, state["step"], iterations)
        return None
    return state


def _save(obj: dict[str, Any], path: Path) -> None:
    with atomic_path(path) as tmp:
        torch.save(with_digest(obj), tmp)  # verified when loaded (denoisebench.checkpoints)


def _cpu_state_dict(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().to("cpu").contiguous() for k, v in model.state_dict().items()}


class _LossModule(nn.Module):
    """``loss_fn(model, noisy, clean, step)`` as a module, so DDP sees the whole loss computation as its forward
    (hooks may call any submodule, e.g. ``model.net.run``, not only ``model.forward``)."""

    def __init__(self, model: nn.Module, loss_fn: LossFn) -> None:
        super().__init__()
        self.model, self.loss_fn = model, loss_fn

    def forward(self, noisy: torch.Tensor, clean: torch.Tensor, step: int) -> tuple[torch.Tensor, dict]:
        return self.loss_fn(self.model, noisy, clean, step)


def _mean_over_ranks(sums: dict[str, torch.Tensor], rank: distributed.Rank,
                     device: torch.device) -> dict[str, torch.Tensor]:
    """Per-key mean over the ranks (one all-reduce on the training device, as NCCL needs; keys in name order)."""
    return distributed.all_mean_dict(sums, device) if rank.distributed and sums else sums


def train_model(
    model: nn.Module,
    images: Sequence[np.ndarray],
    noise: Any,
    config: TrainConfig,
    out_dir: str | Path,
    *,
    loss_fn: LossFn | None = None,
    validate: Validator | None = None,
    callbacks: Sequence[Callback] = (),
    meta: dict[str, Any] | None = None,
    tracking: dict[str, Any] | None = None,
    stateful: Sequence[Stateful] = (),
) -> TrainResult:
    """Train ``model`` on noisy/clean patch pairs; resume from the newest matching ``state.pt`` (``out_dir``, or
    the :func:`resume_store` when one is active).

    Args:
        model: maps a noisy (N, C, H, W) batch to its clean estimate (used by the default loss).
        images: clean float32 (H, W, C) training images.
        noise: a noise model: ``apply(img, rng)`` and optionally ``apply_torch(batch, generator)``.
        config: the schedule.
        out_dir: where ``state.pt`` and ``model.pt`` go.
        loss_fn: ``(model, noisy, clean, step) -> (loss, logs)``; default: ``config.loss`` of model(noisy) vs clean.
        validate: ``(model, step) -> metrics`` run in eval mode every ``config.val_every`` steps and at the end.
        callbacks: ``(step, logs)`` after each step, before that step's checkpoint (so the checkpoint holds the
            ``stateful`` state that includes the step).
        meta: caller metadata stored in both checkpoints and hashed (e.g. ``{"method": ..., "method_config": ...}``).
        tracking: keyword arguments of :func:`denoisebench.tracking.tracked_run` (stage, method, dataset, profile,
            enabled) plus optional extra ``params`` and ``dataset_source`` (where the training images were read,
            logged with the data fingerprint as the run's training dataset input); None disables tracking.
        stateful: caller objects whose ``state_dict()`` is saved in ``state.pt`` and restored on resume.

    Returns:
        A :class:`TrainResult`.

    Under ``torchrun`` (``WORLD_SIZE`` > 1) this joins the process group for the run (unless the caller did) and
    trains data-parallel; see the module doc.
    """
    with distributed.process_group(config.resolved_device().type) as rank:
        return _train(model, images, noise, config, out_dir, loss_fn=loss_fn, validate=validate, callbacks=callbacks,
                      meta=meta, tracking=tracking, stateful=stateful, rank=rank)


def _train(model: nn.Module, images: Sequence[np.ndarray], noise: Any, config: TrainConfig, out_dir: str | Path, *,
           loss_fn: LossFn | None, validate: Validator | None, callbacks: Sequence[Callback],
           meta: dict[str, Any] | None, tracking: dict[str, Any] | None, stateful: Sequence[Stateful],
           rank: distributed.Rank) -> TrainResult:
    """Set up the device, the rank's batch slice and SyncBatchNorm (undone afterwards), then run the loop."""
    cfg = config
    meta = json.loads(json.dumps(meta or {}, default=str))  # plain types only: checkpoints load with weights_only
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    device = distributed.device_for(cfg.resolved_device(), rank)
    cuda = device.type == "cuda"
    part = distributed.shard(cfg.batch_size, rank)
    if cfg.nproc != rank.world_size:
        log.warning("train config asks for nproc=%d but %d process(es) run; the effective batch stays batch_size=%d",
                    cfg.nproc, rank.world_size, cfg.batch_size)
    sampler = PatchSampler(images, cfg.patch_size, augment=cfg.augment)
    model.to(device)
    if cuda and cfg.channels_last:
        model.to(memory_format=torch.channels_last)
    replaced_bn = distributed.sync_batchnorm(model, rank, device)
    try:
        with entry_lock(out, rank.main):
            return _train_loop(model, sampler, images, noise, cfg, out, device, part, rank, loss_fn, validate,
                               callbacks, meta, tracking, stateful)
    finally:
        distributed.restore_batchnorm(model, replaced_bn)


def _train_loop(model: nn.Module, sampler: PatchSampler, images: Sequence[np.ndarray], noise: Any, cfg: TrainConfig,
                out: Path, device: torch.device, part: slice, rank: distributed.Rank, loss_fn: LossFn | None,
                validate: Validator | None, callbacks: Sequence[Callback], meta: dict[str, Any],
                tracking: dict[str, Any] | None, stateful: Sequence[Stateful]) -> TrainResult:
    from denoisebench.tracking import tracked_run

    cuda = device.type == "cuda"
    optimizer = OPTIMIZERS.get(cfg.optimizer)(model.parameters(), cfg)
    scheduler = torch.optim.lr_scheduler.MultiStepLR(optimizer, list(cfg.milestones), cfg.gamma)
    amp = cfg.amp and cuda
    scaler = torch.amp.GradScaler("cuda", enabled=amp and cfg.amp_dtype == "float16")
    loss_fn = loss_fn or mse_loss_fn(cfg.loss)
    noise_params = getattr(noise, "params", None) or type(noise).__name__
    fingerprint = data_fingerprint(images)
    digest = config_hash(cfg, meta, noise_params, fingerprint)

    store = _STORE.get()
    work_dir = None if store is None else store / out.name / digest
    state_path = out / STATE_FILE if work_dir is None else work_dir / STATE_FILE
    state, _ = _newest_state([state_path, out / STATE_FILE] if work_dir else [state_path], digest, cfg.iterations)
    start, resumed_from, lineage = 0, None, []
    if state is not None:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        scaler.load_state_dict(state["scaler"])
        torch.set_rng_state(state["rng"]["torch"])
        if cuda and state["rng"].get("cuda"):
            torch.cuda.set_rng_state_all(state["rng"]["cuda"])
        for obj, obj_state in zip(stateful, state.get("stateful", [])):
            obj.load_state_dict(obj_state)
        start, lineage = int(state["step"]), list(state.get("lineage", []))
        resumed_from = (state["run_id"], start) if state.get("run_id") else None

    def snapshot(step: int, run: Any) -> dict[str, Any]:
        return {
            "format": STATE_FORMAT, "step": step, "model": _cpu_state_dict(model),
            "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(), "scaler": scaler.state_dict(),
            "rng": {"torch": torch.get_rng_state(), "cuda": torch.cuda.get_rng_state_all() if cuda else []},
            "config": cfg.to_dict(), "config_hash": digest, "meta": meta, "run_id": run.run_id,
            "lineage": lineage, "stateful": [obj.state_dict() for obj in stateful],
        }

    track = dict(tracking or {"enabled": False})
    if not rank.main:
        track["enabled"] = False
    extra_params = track.pop("params", {})
    dataset_source = track.pop("dataset_source", None)
    track.setdefault("stage", "train")
    track.setdefault("method", meta.get("method", type(model).__name__))
    track.setdefault("dataset", None)
    scale = {"world_size": rank.world_size, "per_rank_batch": part.stop - part.start if rank.distributed
             else cfg.batch_size, "effective_batch": cfg.batch_size}
    params = {"train": cfg.to_dict(), "meta": meta, "noise": noise_params, "config_hash": digest,
              "n_train_images": len(sampler), "distributed": scale, **extra_params}
    torch_noise = _has_torch_noise(noise, device, sampler.channels)
    batches = _Batches(sampler, noise, cfg, torch_noise=torch_noise, part=part if not torch_noise else slice(None))
    find_unused = bool(getattr(model, distributed.FIND_UNUSED_ATTR, False))
    train_step = (distributed.wrap(_LossModule(model, loss_fn), device, rank, find_unused) if rank.distributed
                  else lambda noisy, clean, step: loss_fn(model, noisy, clean, step))
    autocast = torch.autocast(device_type=device.type, dtype=AMP_DTYPES[cfg.amp_dtype], enabled=amp)
    show_bar = cfg.progress and rank.main and sys.stderr.isatty()
    bar = _progress_bar(total=cfg.iterations, initial=start, disable=not show_bar,
                        desc=f"train {track['method']}", dynamic_ncols=True)
    sums: dict[str, torch.Tensor] = {}
    window, final_loss, step = 0, None, start
    t_start = t_window = time.perf_counter()
    with tracked_run(params=params, resumed_from=resumed_from, **track) as run:
        lineage = _extend_lineage(lineage, run, start)
        run.log_dataset(track["dataset"] or "training images", fingerprint, dataset_source or "in memory",
                        "training", {"images": len(sampler), "patch_size": cfg.patch_size})
        model.train()
        for step, clean_np, noisy_np in batches.iterate(start + 1, cfg.iterations):
            clean = torch.from_numpy(clean_np).to(device, non_blocking=True)
            if noisy_np is None:
                gen = torch.Generator(device=device).manual_seed(step_seed(cfg.seed, step, 2))
                noisy = noise.apply_torch(clean, gen)
                if rank.distributed:
                    clean, noisy = clean[part], noisy[part]
            else:
                noisy = torch.from_numpy(noisy_np).to(device, non_blocking=True)
            if cuda and cfg.channels_last:
                clean, noisy = (t.contiguous(memory_format=torch.channels_last) for t in (clean, noisy))
            with autocast:
                loss, logs = train_step(noisy, clean, step)
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            if cfg.grad_clip is not None:
                scaler.unscale_(optimizer)
                nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
            scaler.step(optimizer)
            scaler.update()
            scheduler.step()
            for key, value in logs.items():
                sums[key] = sums.get(key, 0.0) + torch.as_tensor(value).detach().float()
            window += 1
            step_logs: dict[str, float] = {}
            if step % cfg.log_every == 0 or step == cfg.iterations:
                now = time.perf_counter()
                step_logs = {k: float(v) / window for k, v in _mean_over_ranks(sums, rank, device).items()}
                step_logs["lr"] = optimizer.param_groups[0]["lr"]
                step_logs["patches_per_s"] = window * cfg.batch_size / max(now - t_window, 1e-9)
                final_loss = step_logs.get("loss", final_loss)
                run.log_metrics(step_logs, step=step)
                bar.set_postfix({k: f"{v:.4g}" for k, v in step_logs.items() if k != "lr"})
                sums, window, t_window = {}, 0, now
            if not rank.main:  # validation, callbacks and files are rank 0's
                continue
            if validate is not None and cfg.val_every and step % cfg.val_every == 0:
                _validate(model, validate, step, run)
            bar.update(1)
            for callback in callbacks:
                callback(step, step_logs)
            if step % cfg.checkpoint_every == 0 and step != cfg.iterations:
                _save(snapshot(step, run), state_path)
        bar.close()
        elapsed = time.perf_counter() - t_start
        done = cfg.iterations - start
        throughput = done * cfg.batch_size / elapsed if done else 0.0
        if rank.main:
            val_metrics = _validate(model, validate, cfg.iterations, run) if validate is not None and done else {}
            _save(snapshot(cfg.iterations, run), out / STATE_FILE)
            summary = {"steps": cfg.iterations, "resumed_from": start or None, "patches_per_second": throughput,
                       "final_loss": final_loss, "elapsed_s": elapsed, "device": str(device), "config_hash": digest,
                       "run_id": run.run_id, "lineage": lineage, "torch": str(torch.__version__), **scale,
                       **val_metrics}
            _save({"format": MODEL_FORMAT, "model": _cpu_state_dict(model), **meta, "train_config": cfg.to_dict(),
                   "summary": summary}, out / MODEL_FILE)
            if done:
                run.log_metrics({"train_patches_per_s": throughput}, step=cfg.iterations)
    # the final state is in out_dir (tracked by DVC); the store keeps unfinished runs only
    if work_dir is not None and rank.main:
        shutil.rmtree(work_dir, ignore_errors=True)
        with contextlib.suppress(OSError):  # the entry's folder too, once no other config's state is left in it
            work_dir.parent.rmdir()
    return TrainResult(out / MODEL_FILE, cfg.iterations, start or None, throughput, final_loss, run.run_id, digest,
                       lineage, rank.world_size)


class _NoBar:
    """Stands in for tqdm when it is not installed (benchmarks/gpu_check.py runs with torch/numpy/skimage only)."""

    def update(self, n: int = 1) -> None: ...

    def set_postfix(self, *args: Any, **kwargs: Any) -> None: ...

    def close(self) -> None: ...


def _progress_bar(**kwargs: Any) -> Any:
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return _NoBar()
    return tqdm(**kwargs)


def _extend_lineage(lineage: list[dict[str, Any]], run: Any, start: int) -> list[dict[str, Any]]:
    """The executions that trained this model so far plus this one (run id, DVC experiment, first step); the
    run is tagged ``dvc_exp_names`` with every experiment name of the chain, in order."""
    from denoisebench.tracking import dvc_exp_name

    chain = [*lineage, {"run_id": run.run_id, "dvc_exp_name": dvc_exp_name(), "from_step": start}]
    names = list(dict.fromkeys(item["dvc_exp_name"] for item in chain if item.get("dvc_exp_name")))
    run.set_tags({"dvc_exp_names": ",".join(names) if names else None})
    return chain


def _validate(model: nn.Module, validate: Validator, step: int, run: Any) -> dict[str, float]:
    model.eval()
    try:
        metrics = validate(model, step)
    finally:
        model.train()
    run.log_metrics(metrics, step=step)
    return metrics


def psnr_validator(images: Sequence[np.ndarray], noise: Any, seed: int = 0, max_images: int = 4) -> Validator:
    """A validation callback: mean PSNR (dB, clipped float output, peak 1) on fixed noisy copies of a few images.

    The noisy inputs are drawn once with ``default_rng([seed, i])``; this is a training curve, not the benchmark's
    scored metric.
    """
    chosen = list(images[:max_images])
    noisy = [noise.apply(img, np.random.default_rng([seed, i])).astype(np.float32) for i, img in enumerate(chosen)]

    def validate(model: nn.Module, step: int) -> dict[str, float]:
        device = next(model.parameters()).device
        scores = []
        with torch.inference_mode():
            for clean, inp in zip(chosen, noisy):
                x = torch.from_numpy(inp.transpose(2, 0, 1)[None].copy()).to(device)
                pred = model(x).float().clamp(0, 1)[0].cpu().numpy().transpose(1, 2, 0)
                mse = float(np.mean((pred.astype(np.float64) - clean) ** 2))
                scores.append(10 * np.log10(1.0 / max(mse, 1e-12)))
        return {"val_psnr": float(np.mean(scores))}

    return validate

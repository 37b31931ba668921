"""Paper 001's training loop: stage 1 (MAXL or plain pre-training) then stage 2 (meta-transfer), resumable.

Data, as in the official loaders: a random ``P x P`` crop and a random horizontal flip shared by the noisy and the
clean image. Stage 1 draws clean crops of the training images and degrades each with the composite noise
(method-specs 2.6; drawn per crop instead of per full image: the degradations act per element, so the
distribution is the same). Stage 2 draws crops of real noisy/clean pairs (the pool). Step ``s`` takes its data
from ``default_rng([seed, s, 0])`` (crops) and ``default_rng([seed, s, 1])`` (noise), so a resumed run sees the
batches an uninterrupted one would.

Data parallel under ``torchrun`` (``nproc`` > 1; :mod:`denoisebench.training.distributed`): every rank draws step
``s``'s full batch as above and trains on its contiguous slice (``s1_batch`` / ``s2_batch`` are the effective
batches); :mod:`.meta` combines the ranks' gradients after each backward (DDP cannot wrap these steps: it does not
support ``torch.autograd.grad``), so N processes follow one process with the whole batch. Stage 2's meta-batch is
split by samples (tasks): each sample's inner adaptation is its own, so a rank adapts its samples alone. Logged
values are averaged over the ranks; rank 0 alone writes checkpoints, ``model.pt`` and the MLflow run and runs the
callbacks. The per-image meta-test (stage 3) adapts one image's heads in a chain of dependent steps: nothing to
split, it stays one process per image.

Checkpoints reuse the generic trainer's mechanism: ``state.pt`` (model, optimisers, step, curve) goes to the resume
store (``.denoisebench/checkpoints/<entry>/<config hash>/``) while a stage runs inside
:func:`denoisebench.training.trainer.resume_store`, else to ``out_dir``; ``model.pt`` (the format
:meth:`LearnedMethod.load` reads) is written at the end.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import shutil
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from denoisebench.checkpoints import CorruptCheckpointError, load_verified
from denoisebench.errors import ConfigError
from denoisebench.papers.p001_meta_tta import meta
from denoisebench.papers.p001_meta_tta.network import MetaTTANet
from denoisebench.papers.p001_meta_tta.schedule import RESULT_NEUTRAL, MetaSchedule
from denoisebench.papers.p001_meta_tta.selection import BestSelector, validation_pairs
from denoisebench.training import distributed
from denoisebench.training import trainer as core

log = logging.getLogger(__name__)


class PairSampler:
    """Random shared crops (+ horizontal flip) of (noisy, clean) pairs; noisy None means "synthesise it"."""

    def __init__(self, clean: Sequence[np.ndarray], noisy: Sequence[np.ndarray] | None, patch: int,
                 where: str) -> None:
        small = [i for i, img in enumerate(clean) if min(img.shape[:2]) < patch]
        if not clean:
            raise ConfigError(f"{where}: no training images")
        if small:
            raise ConfigError(f"{where}: images {small[:5]} are smaller than the {patch}px crop (e.g. "
                              f"{clean[small[0]].shape[:2]}); lower the patch size")
        self.clean, self.noisy, self.patch = list(clean), None if noisy is None else list(noisy), patch

    def sample(self, batch: int, rng: np.random.Generator, noise: Any = None,
               noise_rng: np.random.Generator | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(noisy, clean) float32 (N, C, P, P)."""
        p = self.patch
        noisy_out, clean_out = [], []
        for _ in range(batch):
            i = int(rng.integers(len(self.clean)))
            h, w = self.clean[i].shape[:2]
            top, left = int(rng.integers(h - p + 1)), int(rng.integers(w - p + 1))
            flip = bool(rng.integers(2))
            crop = (slice(top, top + p), slice(left, left + p))
            clean = self.clean[i][crop]
            noisy = noise.apply(clean, noise_rng) if self.noisy is None else self.noisy[i][crop]
            if flip:
                clean, noisy = clean[:, ::-1], noisy[:, ::-1]
            clean_out.append(clean.transpose(2, 0, 1))
            noisy_out.append(np.asarray(noisy, dtype=np.float32).transpose(2, 0, 1))
        return np.ascontiguousarray(np.stack(noisy_out)), np.ascontiguousarray(np.stack(clean_out))


def load_pool(schedule: MetaSchedule, clean_images: Sequence[np.ndarray], noise: Any,
              ) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """The stage-2 pairs: a real-noise dataset's (noisy, clean) split, or ``synthetic`` pairs for the demo."""
    from denoisebench.papers.p001_meta_tta.schedule import SYNTHETIC_POOL

    if schedule.pool == SYNTHETIC_POOL:
        noisy = [noise.apply(img, np.random.default_rng([schedule.seed, i, 7])).astype(np.float32)
                 for i, img in enumerate(clean_images)]
        return noisy, list(clean_images)
    from denoisebench.datasets import list_samples

    noisy, clean = [], []
    for name, split in schedule.pool_sets():
        samples = list_samples(name, schedule.pool_root, split=split, limit=schedule.pool_limit)
        if not samples or not all(s.has_noisy for s in samples):
            raise ConfigError(f"train config: pool item {name!r} (split {split!r}) must be a set of real noisy/clean "
                              "pairs (e.g. polyu/train, sidd_small) or 'synthetic'")
        for sample in samples:
            noisy.append(sample.noisy())
            clean.append(sample.clean())
    return noisy, clean


def _optimisers(model: MetaTTANet, schedule: MetaSchedule) -> dict[str, torch.optim.Optimizer]:
    return {"s1_net": torch.optim.Adam(model.net.parameters(), lr=schedule.s1_lr),
            "s1_mask": torch.optim.Adam(model.mask.parameters(), lr=schedule.s1_lr),
            "s2": torch.optim.Adam(model.parameters(), lr=schedule.s2_lr)}


#: The rank of a run without ``torchrun``.
_ONE_PROCESS = distributed.Rank()

#: One training step: ``step_fn(step) -> (logs, patches drawn)``.
StepFn = Callable[[int], "tuple[dict[str, float], int]"]


def train_meta_tta(model: MetaTTANet, params: dict[str, Any], clean_images: Sequence[np.ndarray],
                   schedule: MetaSchedule, out_dir: Path, *, meta_info: dict[str, Any],
                   tracking: dict[str, Any] | None = None, callbacks: Sequence[Callable[[int, dict], None]] = (),
                   init_state: dict[str, torch.Tensor] | None = None) -> core.TrainResult:
    """Run the entry's stages (``params``: the method config) and write ``model.pt``; return a TrainResult."""
    with distributed.process_group(_device(schedule.device).type) as rank, core.entry_lock(out_dir, rank.main):
        return _train_meta_tta(model, params, clean_images, schedule, out_dir, meta_info=meta_info,
                               tracking=tracking, callbacks=callbacks, init_state=init_state, rank=rank)


def _train_meta_tta(model: MetaTTANet, params: dict[str, Any], clean_images: Sequence[np.ndarray],
                    schedule: MetaSchedule, out_dir: Path, *, meta_info: dict[str, Any],
                    tracking: dict[str, Any] | None, callbacks: Sequence[Callable[[int, dict], None]],
                    init_state: dict[str, torch.Tensor] | None, rank: distributed.Rank) -> core.TrainResult:
    from denoisebench.noise import build_noise

    device = distributed.device_for(_device(schedule.device), rank)
    s1_part, s2_part = _shards(schedule, rank, stage1=params["stage1"] != "none", stage2=params["stage2"])
    noise = build_noise(params["stage1_noise"])
    stage1, stage2 = params["stage1"], params["stage2"]
    s1_sampler = PairSampler(clean_images, None, schedule.s1_patch, "stage 1") if stage1 != "none" else None
    pool_noisy, pool_clean = load_pool(schedule, clean_images, noise) if stage2 else ([], [])
    s2_sampler = PairSampler(pool_clean, pool_noisy, schedule.s2_patch, f"stage 2 pool {schedule.pool_sets()}") \
        if stage2 else None
    first_s2 = schedule.stage1_steps_of(stage1)
    total = first_s2 + (schedule.s2_iterations if stage2 else 0)
    if init_state is not None:
        model.load_state_dict(init_state)
    model.to(device)
    opts = _optimisers(model, schedule)

    def step_fn(step: int) -> tuple[dict[str, float], int]:
        rng = np.random.default_rng([schedule.seed, step, 0])
        noise_rng = np.random.default_rng([schedule.seed, step, 1])
        if step <= first_s2:
            phase, _ = schedule.locate(step)
            noisy, clean = (torch.from_numpy(a[s1_part]).to(device) for a in
                            s1_sampler.sample(schedule.s1_batch, rng, noise, noise_rng))
            return _stage1_step(model, opts, phase, stage1, params, noisy, clean, schedule.s1_lr), schedule.s1_batch
        noisy, clean = (torch.from_numpy(a[s2_part]).to(device) for a in s2_sampler.sample(schedule.s2_batch, rng))
        logs = meta.mtl_step(model, opts["s2"], noisy, clean, params["inner_steps"], params["inner_lr"],
                             params["inner_weight"], params["outer_weight"], params["inner_scope"],
                             params["stage2_aux"])
        return {f"s2_{k}": v for k, v in logs.items()} | {"loss": logs["loss"]}, schedule.s2_batch

    selector = None
    if stage2 and schedule.select == "official":
        pairs = validation_pairs(pool_noisy, pool_clean, schedule.select_crop, schedule.select_images)
        selector = BestSelector(pairs, first_s2, total, schedule.select_every, schedule.s2_lr)
    return _run(model, opts, step_fn, total, schedule, Path(out_dir), device, meta_info=meta_info,
                data=[*clean_images, *pool_noisy, *pool_clean], init_state=init_state, tracking=tracking,
                callbacks=callbacks, selector=selector, params=params, counts={"n_train_images": len(clean_images),
                                                            "n_pool_pairs": len(pool_clean)},
                summary={"stage1_steps": first_s2, "stage2_steps": total - first_s2}, rank=rank,
                per_rank_batch={"s1": _size(s1_part), "s2": _size(s2_part)})


def _shards(schedule: MetaSchedule, rank: distributed.Rank, stage1: bool = True,
            stage2: bool = True) -> tuple[slice, slice]:
    """This rank's slices of the stage-1 and stage-2 batches (a batch of a stage that runs must divide by the
    number of processes)."""
    for name, runs in (("s1_batch", stage1), ("s2_batch", stage2)):
        size = getattr(schedule, name)
        if runs and size % rank.world_size:
            raise ConfigError(f"train config: {name}={size} (the effective batch) must be divisible by the "
                              f"{rank.world_size} processes; change {name} or nproc")
    return (distributed.shard(schedule.s1_batch, rank) if stage1 else slice(None),
            distributed.shard(schedule.s2_batch, rank) if stage2 else slice(None))


def _size(part: slice) -> int | None:
    return None if part.stop is None else part.stop - part.start


def train_supervised_pairs(model: torch.nn.Module, clean_images: Sequence[np.ndarray], schedule: MetaSchedule,
                           out_dir: Path, *, meta_info: dict[str, Any], tracking: dict[str, Any] | None = None,
                           callbacks: Sequence[Callable[[int, dict], None]] = ()) -> core.TrainResult:
    """Plain L1 training of ``model`` (noisy -> clean) on the schedule's stage-2 pool, ``s2_iterations`` Adam steps
    at ``s2_lr`` (a baseline retrained on the meta-transfer data, as the paper did for RIDNet / MIRNet); data
    parallel under ``torchrun`` as :func:`train_meta_tta` (the L1 loss is a mean: the ranks' gradients are
    averaged)."""
    with distributed.process_group(_device(schedule.device).type) as rank, core.entry_lock(out_dir, rank.main):
        return _train_supervised_pairs(model, clean_images, schedule, out_dir, meta_info=meta_info,
                                       tracking=tracking, callbacks=callbacks, rank=rank)


def _train_supervised_pairs(model: torch.nn.Module, clean_images: Sequence[np.ndarray], schedule: MetaSchedule,
                            out_dir: Path, *, meta_info: dict[str, Any], tracking: dict[str, Any] | None,
                            callbacks: Sequence[Callable[[int, dict], None]],
                            rank: distributed.Rank) -> core.TrainResult:
    from denoisebench.noise import build_noise

    device = distributed.device_for(_device(schedule.device), rank)
    _, part = _shards(schedule, rank, stage1=False)
    pool_noisy, pool_clean = load_pool(schedule, clean_images, build_noise({"name": "composite"}))
    sampler = PairSampler(pool_clean, pool_noisy, schedule.s2_patch, f"pool {schedule.pool_sets()}")
    model.to(device)
    opts = {"adam": torch.optim.Adam(model.parameters(), lr=schedule.s2_lr)}

    def step_fn(step: int) -> tuple[dict[str, float], int]:
        noisy, clean = (torch.from_numpy(a[part]).to(device) for a in
                        sampler.sample(schedule.s2_batch, np.random.default_rng([schedule.seed, step, 0])))
        loss = (model(noisy) - clean).abs().mean()
        opts["adam"].zero_grad(set_to_none=True)
        loss.backward()
        distributed.reduce_gradients(model.parameters(), "mean")
        opts["adam"].step()
        return {"loss": float(loss.detach())}, schedule.s2_batch

    return _run(model, opts, step_fn, schedule.s2_iterations, schedule, Path(out_dir), device, meta_info=meta_info,
                data=[*pool_noisy, *pool_clean], init_state=None, tracking=tracking, callbacks=callbacks,
                params=meta_info.get("method_config", {}), counts={"n_pool_pairs": len(pool_clean)}, summary={},
                rank=rank, per_rank_batch={"s2": _size(part)})


def _run(model: torch.nn.Module, opts: dict[str, torch.optim.Optimizer], step_fn: StepFn, total: int,
         schedule: MetaSchedule, out: Path, device: torch.device, *, meta_info: dict[str, Any],
         data: Sequence[np.ndarray], init_state: dict[str, torch.Tensor] | None, tracking: dict[str, Any] | None,
         callbacks: Sequence[Callable[[int, dict], None]], params: dict[str, Any], counts: dict[str, int],
         summary: dict[str, Any], rank: distributed.Rank = _ONE_PROCESS,
         per_rank_batch: dict[str, int | None] | None = None,
         selector: BestSelector | None = None) -> core.TrainResult:
    """The resumable loop shared by both front-ends: resume, steps, logs, checkpoints, ``model.pt`` (files, MLflow
    and callbacks on rank 0 only; logs averaged over the ranks). With a ``selector`` (rank 0), ``model.pt`` holds
    the weights it selected; the summary's ``selection`` says which rule chose them."""
    from denoisebench.tracking import tracked_run

    out.mkdir(parents=True, exist_ok=True)
    train_dict = {k: v for k, v in schedule.to_dict().items() if k not in RESULT_NEUTRAL}
    blob = json.dumps({"schedule": train_dict, "meta": meta_info, "data": core.data_fingerprint(data),
                       "init": None if init_state is None else _state_digest(init_state)}, sort_keys=True, default=str)
    digest = hashlib.sha256(blob.encode()).hexdigest()[:16]
    store = core._STORE.get()
    work_dir = None if store is None else store / out.name / digest
    state_path = out / core.STATE_FILE if work_dir is None else work_dir / core.STATE_FILE
    state = _newest_state([state_path, out / core.STATE_FILE], digest, total)
    start, lineage = 0, []
    if state is not None:
        model.load_state_dict(state["model"])
        for name, opt in opts.items():
            opt.load_state_dict(state["optimizers"][name])
        torch.set_rng_state(state["rng"])
        start, lineage = int(state["step"]), list(state.get("lineage", []))
        if selector is not None and state.get("selector"):
            selector.load_state_dict(state["selector"])

    def snapshot(step: int, run: Any) -> dict[str, Any]:
        return {"format": core.STATE_FORMAT, "step": step, "model": core._cpu_state_dict(model),
                "optimizers": {k: o.state_dict() for k, o in opts.items()}, "rng": torch.get_rng_state(),
                "config_hash": digest, "run_id": run.run_id, "lineage": lineage,
                "selector": None if selector is None else selector.state_dict()}

    track = dict(tracking or {"enabled": False})
    if not rank.main:
        track["enabled"] = False
    track.pop("params", None)
    track.pop("dataset_source", None)
    track.setdefault("stage", "train")
    track.setdefault("method", meta_info.get("method", "meta_tta"))
    track.setdefault("dataset", None)
    scale = {"world_size": rank.world_size, "per_rank_batch": per_rank_batch or {}}
    run_params = {"schedule": schedule.to_dict(), "method_config": params, "config_hash": digest, **counts,
                  "distributed": scale}
    sums: dict[str, float] = {}
    window, final_loss, patches = 0, None, 0
    t0 = time.perf_counter()
    resumed = (state["run_id"], start) if state is not None and state.get("run_id") else None
    with tracked_run(params=run_params, resumed_from=resumed, **track) as run:
        lineage = core._extend_lineage(lineage, run, start)
        model.train()
        for step in range(start + 1, total + 1):
            logs, drawn = step_fn(step)
            patches += drawn
            for key, value in logs.items():
                sums[key] = sums.get(key, 0.0) + value
            window += 1
            step_logs: dict[str, float] = {}
            if step % schedule.log_every == 0 or step == total:
                step_logs = _mean_logs({k: v / window for k, v in sums.items()}, rank, device)
                final_loss = step_logs.get("loss", final_loss)
                run.log_metrics(step_logs, step=step)
                sums, window = {}, 0
            if not rank.main:  # callbacks and files are rank 0's
                continue
            if selector is not None:
                selector.after_step(step, model)
            for callback in callbacks:
                callback(step, step_logs)
            if step % schedule.checkpoint_every == 0 and step != total:
                core._save(snapshot(step, run), state_path)
        elapsed = time.perf_counter() - t0
        done = total - start
        throughput = patches / elapsed if done and elapsed > 0 else 0.0
        if rank.main:
            core._save(snapshot(total, run), out / core.STATE_FILE)
            selection = {"rule": "last"} if selector is None else selector.summary()
            if selector is not None and selector.best_model is not None:
                model.load_state_dict(selector.best_model)
            summary = {"selection": selection, "steps": total, **summary, "resumed_from": start or None, "patches_per_second": throughput,
                       "final_loss": final_loss, "elapsed_s": elapsed, "device": str(device), "config_hash": digest,
                       "run_id": run.run_id, "lineage": lineage, "torch": str(torch.__version__), **scale}
            model_meta = json.loads(json.dumps(meta_info, default=str))
            core._save({"format": core.MODEL_FORMAT, "model": core._cpu_state_dict(model), **model_meta,
                        "train_config": schedule.to_dict(), "summary": summary}, out / core.MODEL_FILE)
    if work_dir is not None and rank.main:
        shutil.rmtree(work_dir, ignore_errors=True)
        with contextlib.suppress(OSError):
            work_dir.parent.rmdir()
    model.eval()
    return core.TrainResult(out / core.MODEL_FILE, total, start or None, throughput, final_loss, run.run_id, digest,
                            lineage, rank.world_size)


def _mean_logs(logs: dict[str, float], rank: distributed.Rank, device: torch.device) -> dict[str, float]:
    """Per-key mean over the ranks (one all-reduce on the training device; keys in name order, the same on every
    rank since a step's phase depends on the step only)."""
    if not rank.distributed or not logs:
        return logs
    return {k: v.item() for k, v in distributed.all_mean_dict(logs, device, torch.float64).items()}


def _stage1_step(model: MetaTTANet, opts: dict[str, torch.optim.Optimizer], phase: str, stage1: str,
                 params: dict[str, Any], noisy: torch.Tensor, clean: torch.Tensor, lr: float) -> dict[str, float]:
    """One stage-1 step: plain multi-task training (one theta1 update per step, one pass per epoch, as the
    official baseline), or MAXL's theta1 / theta2 pass."""
    aux = params["stage1_aux"]
    if stage1 == "plain":
        return meta.plain_step(model, opts["s1_net"], noisy, clean, aux)
    if phase == "s1_aux":
        return meta.maxl_aux_step(model, opts["s1_net"], noisy, clean, aux)
    return meta.maxl_mask_step(model, opts["s1_mask"], noisy, clean, lr, aux, params["lambda_g"])


def _newest_state(paths: Sequence[Path], digest: str, total: int) -> dict[str, Any] | None:
    found = []
    for path in paths:
        if not path.is_file():
            continue
        try:
            state = load_verified(path)
        except CorruptCheckpointError as exc:  # unreadable or damaged: training restarts
            log.warning("%s: unreadable checkpoint (%s); ignoring it", path, exc)
            continue
        if state.get("config_hash") == digest and int(state["step"]) <= total and "optimizers" in state:
            found.append(state)
    return max(found, key=lambda s: int(s["step"])) if found else None


def _state_digest(state: dict[str, torch.Tensor]) -> str:
    digest = hashlib.sha256()
    for name in sorted(state):
        digest.update(name.encode())
        digest.update(state[name].detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()[:16]


def _device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"train config: device={name!r} but CUDA is not available; use 'auto' or 'cpu'")
    return torch.device(name)

"""Multi-task training in cycles of task mini-batches (paper Sec. 5.1.2) on the generic resumable trainer.

A cycle holds ``cycle[task]`` mini-batches of each trained task (paper: 1 haze, 1 rain, 3 blur; +1 JPEG in the
4-task setting [choice: 1]; +1 denoising, beyond the paper) in a random order. Step ``s`` belongs to cycle
``(s - 1) // L`` (``L`` = mini-batches per cycle); each cycle's order is drawn from ``default_rng([seed, cycle,
7])``, so the task of a step is a pure function of ``(seed, step)`` and a resumed run trains exactly the tasks an
uninterrupted one would. Each mini-batch degrades the trainer's clean patches with its task's model (a spec drawn
per patch from the task's list, randomness from ``default_rng([seed, step, 11])``) and its loss is back-propagated
through the task's path only: the shared encoder, the extra DuRB-Ms below its decoder and the decoder (the other
parameters get no gradient, so Adam leaves them untouched). Augmentation is the task's own, as the authors' scripts
(``task_augment``; the generic trainer's 8-way flips/rotations are switched off): horizontal flips for rain, none
for the others. With ``task_data`` (the paper profile), a task trains on its dataset's real pairs (GoPro, RESIDE
ITS, DID-MDN: :mod:`.pairs`) or on a clean set degraded as above (DIV2K halved for JPEG) instead of the trainer's
patches.

The generic trainer synthesises noise from one model per run; here the degradation depends on the step's task,
so the trainer is given :class:`TaskCycle` (an identity "noise" whose ``params`` carry the cycle and the task
degradations into the resume hash) and the degradation happens in :func:`cycle_loss`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from denoisebench.errors import ConfigError
from denoisebench.papers.p002_durn_mtl.pairs import TaskPool

#: Mini-batches per cycle (paper: haze 1, rain 1, blur 3; JPEG 1 [choice]; denoise 1 [beyond the paper]).
DEFAULT_CYCLE: dict[str, int] = {"haze": 1, "rain": 1, "blur": 3, "jpeg": 1, "denoise": 1}
#: Training degradations per task: one spec is drawn per patch (method-specs 2.9 / 5(d)).
DEFAULT_TASK_NOISE: dict[str, list[str]] = {
    "blur": ["motion_blur"],
    "haze": ["haze"],
    "rain": ["rain"],
    "jpeg": ["jpeg:quality=10", "jpeg:quality=20", "jpeg:quality=30", "jpeg:quality=40"],
    "denoise": ["awgn:sigma_range=[5,50]"],
}
#: Augmentation per task, as the authors' DuRN training scripts (``DualResidualNetworks/train/*.py``,
#: ``with_data_aug`` -> ``N_modules.DataAugmentation``: a horizontal flip with probability 1/2): blur (GoPro), haze
#: (RESIDE) and real noise none, rain (DID-MDN) horizontal flips only; JPEG has no DuRN script: none [choice].
DEFAULT_TASK_AUGMENT: dict[str, str] = {"blur": "none", "haze": "none", "rain": "hflip", "jpeg": "none",
                                        "denoise": "none"}
#: Augmentation name -> function of (a (C, H, W) patch, rng) -> patch.
AUGMENTATIONS = {"none": lambda patch, rng: patch,
                 "hflip": lambda patch, rng: patch[:, :, ::-1] if rng.random() < 0.5 else patch}

#: Paired test set -> the task (decoder) that restores its real degraded images.
REAL_SET_TASK: dict[str, str] = {"gopro_test": "blur", "reside_sots_indoor": "haze", "did_mdn_test": "rain"}
#: Noise-model name of a test cell -> the task (decoder) that restores it; real noise -> denoise.
NOISE_TASK: dict[str, str] = {"motion_blur": "blur", "haze": "haze", "rain": "rain", "jpeg": "jpeg",
                              "awgn": "denoise", "real": "denoise"}


class TaskCycle:
    """The task of every training step plus the degradation models of each task.

    Args:
        tasks: trained tasks (in layout order).
        cycle: mini-batches per cycle of each task (tasks missing here get 1).
        task_noise: task -> list of noise specs.
        seed: the training seed (the trainer's ``TrainConfig.seed``).
    """

    def __init__(self, tasks: Sequence[str], cycle: Mapping[str, int], task_noise: Mapping[str, Sequence[str]],
                 seed: int, task_augment: Mapping[str, str] | None = None,
                 task_data: Mapping[str, Mapping[str, Any]] | None = None, root: str = "data/raw") -> None:
        from denoisebench.noise import build_noise

        self.tasks = tuple(tasks)
        self.counts = {t: int(cycle.get(t, 1)) for t in self.tasks}
        bad = {t: n for t, n in self.counts.items() if n < 1}
        if bad:
            raise ConfigError(f"durn_mtl: cycle counts must be >= 1, got {bad}")
        missing = [t for t in self.tasks if not task_noise.get(t)]
        if missing:
            raise ConfigError(f"durn_mtl: task_noise has no degradation for task(s) {missing}; give a list of "
                              f"noise specs per task, e.g. {DEFAULT_TASK_NOISE}")
        self.specs = {t: [str(s) for s in task_noise[t]] for t in self.tasks}
        self.models = {t: [build_noise(s) for s in self.specs[t]] for t in self.tasks}
        augment = {**DEFAULT_TASK_AUGMENT, **(task_augment or {})}
        bad_aug = {t: augment.get(t) for t in self.tasks if augment.get(t) not in AUGMENTATIONS}
        if bad_aug:
            raise ConfigError(f"durn_mtl: task_augment {bad_aug} must be one of {', '.join(AUGMENTATIONS)}")
        self.augment_of = {t: augment[t] for t in self.tasks}
        self.seed = int(seed)
        # one schedule serves entries of different task sets: the pools of tasks this entry does not train are unused
        self.task_data = {t: dict(v) for t, v in (task_data or {}).items() if t in self.tasks}
        self.pools = {t: TaskPool(spec, root) for t, spec in self.task_data.items()}
        self._base = [t for t in self.tasks for _ in range(self.counts[t])]

    @property
    def length(self) -> int:
        """Mini-batches per cycle."""
        return len(self._base)

    @property
    def params(self) -> dict[str, Any]:
        """What the trained weights depend on (hashed by the trainer for resuming)."""
        return {"name": "task_cycle", "tasks": list(self.tasks), "cycle": self.counts,
                "task_noise": {t: [dict(m.params) for m in self.models[t]] for t in self.tasks},
                "task_augment": self.augment_of, "task_data": self.task_data}

    def order(self, cycle: int) -> list[str]:
        """The shuffled task order of cycle ``cycle`` (0-based)."""
        rng = np.random.default_rng([self.seed, cycle, 7])
        return [self._base[i] for i in rng.permutation(self.length)]

    def task(self, step: int) -> str:
        """The task of trainer step ``step`` (1-based)."""
        cycle, pos = divmod(step - 1, self.length)
        return self.order(cycle)[pos]

    def augment(self, clean: np.ndarray, task: str, step: int) -> np.ndarray:
        """``task``'s augmentation of a clean (N, C, H, W) batch (randomness from ``default_rng([seed, step, 13])``)."""
        rng = np.random.default_rng([self.seed, step, 13])
        fn = AUGMENTATIONS[self.augment_of[task]]
        return np.ascontiguousarray(np.stack([fn(p, rng) for p in clean]))

    def batch(self, clean: np.ndarray, task: str, step: int) -> tuple[np.ndarray, np.ndarray]:
        """(input, reference) of a step: the task's pool pairs (same batch and crop size as the trainer's clean
        patches, crops from ``default_rng([seed, step, 17])``) or the trainer's clean patches; then the task's
        augmentation (shared by input and reference); then, unless the pool gave real inputs, the synthetic
        degradation."""
        pool = self.pools.get(task)
        noisy = None
        if pool is not None:
            noisy, clean = pool.sample(len(clean), clean.shape[-1], np.random.default_rng([self.seed, step, 17]))
        if noisy is None:
            target = self.augment(clean, task, step)
            return self.degrade(target, task, step), target
        both = self.augment(np.concatenate([noisy, clean], axis=1), task, step)
        c = clean.shape[1]
        return np.ascontiguousarray(both[:, :c]), np.ascontiguousarray(both[:, c:])

    def degrade(self, clean: np.ndarray, task: str, step: int) -> np.ndarray:
        """Degrade a clean (N, C, H, W) batch with ``task``'s models (one spec drawn per patch)."""
        rng = np.random.default_rng([self.seed, step, 11])
        models = self.models[task]
        out = [models[int(rng.integers(len(models)))].apply(p.transpose(1, 2, 0), rng).transpose(2, 0, 1)
               for p in clean]
        return np.stack(out).astype(np.float32, copy=False)

    # The generic trainer's noise interface: identity (the degradation happens in the loss, per task).
    def apply(self, clean: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        return np.asarray(clean, dtype=np.float32)

    def apply_torch(self, batch: Any, generator: Any) -> Any:
        return batch


def cycle_loss(schedule: TaskCycle, l1_weight: float, ssim_weight: float) -> Any:
    """The trainer's loss hook: degrade the step's clean patches for its task, restore them with that task's
    path, DuRN loss against the clean patches.

    Data parallel (DDP under ``torchrun``, :mod:`denoisebench.training.distributed`): the task is a function of the
    step, so every rank trains the same task's path at the same step; the degradation's random stream runs
    sequentially over the patches, so each rank gathers the full clean batch, degrades all of it exactly as one
    process does and keeps its own slice (N-fold degradation work on the CPU, as the trainer's numpy noise path);
    the L1 and SSIM terms are per-patch means, so DDP's mean of the ranks' gradients is the full batch's. N
    processes with ``batch_size / N`` patches thus follow the one-process run with ``batch_size``."""
    import torch

    from denoisebench.papers.p002_durn_mtl.losses import durn_loss
    from denoisebench.training import distributed

    def loss_fn(model: Any, noisy: Any, clean: Any, step: int) -> tuple[Any, dict[str, Any]]:
        task = schedule.task(step)
        full = distributed.gather_batch(clean)
        degraded, target = schedule.batch(full.detach().float().cpu().numpy(), task, step)
        own = distributed.shard(len(degraded), distributed.current())
        x = torch.from_numpy(degraded[own]).to(clean.device, dtype=clean.dtype)
        y = torch.from_numpy(target[own]).to(clean.device, dtype=clean.dtype)
        return durn_loss(model(x, task), y, l1_weight, ssim_weight)

    return loss_fn

"""DuRN-MTL (paper 002) as a benchmark method: one network, one decoder per task, trained in task cycles.

Config (a ``methods.learned`` entry of params.yaml):
    layout: task layout (``"R>B>H"``; see :mod:`.network`), the 13 Table-2 designs are values of it.
    tasks: the trained tasks (default: every task of the layout); one task = the single-task control (the same
        network; the other decoders are never trained, as in the paper's Sec. 5.4.2).
    tv, gap, fusion: Table 3's ablation switches (all true).
    cycle: mini-batches per cycle per task (default haze 1, rain 1, blur 3, jpeg 1, denoise 1).
    task_noise: task -> list of training degradation specs (defaults in :mod:`.training`).
    l1_weight, ssim_weight: the DuRN loss weights (0.75, 1.1).
    train: TrainConfig overrides, plus ``task_data`` (task -> training set: :mod:`.pairs`) and ``task_root`` (the
        data root of those sets, default ``data/raw``).

At test time the decoder follows the cell's degradation (``context.noise["name"]``): motion_blur -> blur,
haze -> haze, rain -> rain, jpeg -> jpeg, awgn and real noise -> denoise. Restrict an entry to its tasks' cells
with the entry's ``evaluate_on`` patterns (params.yaml); a cell of an untrained task is a clear error.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from denoisebench.errors import ConfigError
from denoisebench.methods._config import merged_config
from denoisebench.methods.base import METHODS, DenoiseContext
from denoisebench.methods.learned import LearnedMethod

#: Table 2-3 ablation schedule (paper: batch 3, 256 crops, 1e5 iterations; Adam 1e-4 x0.1 at 50 % / 75 % [choice]).
#: ``augment`` off: each task has its own augmentation (``task_augment``, :mod:`.training`), as the authors' scripts.
DEFAULT_TRAIN: dict[str, Any] = {"batch_size": 3, "patch_size": 256, "optimizer": "adam", "lr": 1e-4,
                                 "iterations": 100_000, "milestones": [50_000, 75_000], "gamma": 0.1,
                                 "augment": False}


@METHODS.register("durn_mtl")
class DuRNMultiTaskMethod(LearnedMethod):
    """Liu, Suganuma & Okatani 2019: DuRB-M network with task decoders trained jointly on several restorations."""

    name = "durn_mtl"
    paper = "durn_mtl"
    kind = "supervised"
    display_name = "DuRN-MTL"
    DEFAULTS: ClassVar[dict[str, Any]] = {
        "layout": "R>B>H", "tasks": None, "tv": True, "gap": True, "fusion": True, "cycle": None,
        "task_noise": None, "task_augment": None, "l1_weight": 0.75, "ssim_weight": 1.1, "channels": 3, "train": {},
    }
    choices = (
        ("degradations synthesized from clean images (uniform motion blur, haze on a synthetic smooth depth, rain "
        "streaks, PIL JPEG) instead of GoPro / RESIDE / DID-MDN / DIV2K (method-specs 2.9)"),
        ("DuRB-M internals, encoder kernel sizes and extra-block kernels from 6272code/6272-code; loss and optimiser "
        "from DuRN (the paper's supplementary material is missing)"),
    )

    @classmethod
    def _validate(cls, config: dict[str, Any]) -> dict[str, Any]:
        from denoisebench.papers.p002_durn_mtl.network import parse_layout
        from denoisebench.papers.p002_durn_mtl.training import DEFAULT_CYCLE, DEFAULT_TASK_AUGMENT, DEFAULT_TASK_NOISE

        p = merged_config(cls.name, cls.DEFAULTS, config)
        layout = parse_layout(p["layout"])
        tasks = p["tasks"] if p["tasks"] is not None else list(layout.tasks)
        if isinstance(tasks, str):
            tasks = [tasks]
        unknown = [t for t in tasks if t not in layout.tasks]
        if not tasks or unknown:
            raise ConfigError(f"durn_mtl: tasks={p['tasks']!r} must be a non-empty list of the layout "
                              f"{layout.text!r}'s tasks ({', '.join(layout.tasks)})")
        p["tasks"] = [t for t in layout.tasks if t in tasks]
        p["layout"] = layout.text
        p["cycle"] = {**DEFAULT_CYCLE, **(p["cycle"] or {})}
        p["task_noise"] = {**DEFAULT_TASK_NOISE, **(p["task_noise"] or {})}
        p["task_augment"] = {**DEFAULT_TASK_AUGMENT, **(p["task_augment"] or {})}
        for key in ("tv", "gap", "fusion"):
            if not isinstance(p[key], bool):
                raise ConfigError(f"durn_mtl: {key}={p[key]!r} must be true or false")
        if p["channels"] != 3:
            raise ConfigError(f"durn_mtl: channels={p['channels']!r}; the network restores colour images (3)")
        if not isinstance(p["train"], dict):
            raise ConfigError(f"durn_mtl: train={p['train']!r} must be a mapping of TrainConfig keys")
        return p

    @staticmethod
    def _build(params: dict[str, Any]) -> Any:
        from denoisebench.papers.p002_durn_mtl.network import DuRNMultiTask

        return DuRNMultiTask(params["layout"], 3, params["tv"], params["gap"], params["fusion"])

    def build_network(self) -> Any:
        return self._build(self.params)

    def schedule(self, seed: int, task_data: dict[str, Any] | None = None, root: str = "data/raw") -> Any:
        """The :class:`~.training.TaskCycle` of this configuration (``task_data``: per-task training sets)."""
        from denoisebench.papers.p002_durn_mtl.training import TaskCycle

        return TaskCycle(self.params["tasks"], self.params["cycle"], self.params["task_noise"], seed,
                         self.params["task_augment"], task_data, root)

    def train(self, train_images: list[np.ndarray], out_dir: Path, *, train_config: Any = None,
              tracking: dict[str, Any] | None = None, callbacks: Sequence[Any] = (), **kwargs: Any) -> Path:
        """Train in task cycles on clean images (degradations synthesised per step); return ``model.pt``."""
        from denoisebench.papers.p002_durn_mtl.training import cycle_loss
        from denoisebench.training import TrainConfig

        if kwargs:
            raise TypeError(f"durn_mtl.train: unexpected arguments {sorted(kwargs)}")
        task_data, task_root = None, "data/raw"
        if isinstance(train_config, TrainConfig):
            cfg = train_config
        else:
            settings = {**DEFAULT_TRAIN, **self.params["train"], **dict(train_config or {})}
            task_data, task_root = settings.pop("task_data", None), settings.pop("task_root", "data/raw")
            cfg = TrainConfig.from_dict(settings)
        if cfg.augment:
            raise ConfigError("durn_mtl: train augment=true would add 8-way flips/rotations to every task; set "
                              "augment: false (each task has its own augmentation, task_augment, as the authors' "
                              "scripts: rain horizontal flips, the others none)")
        self.check_channels(train_images)
        schedule = self.schedule(cfg.seed, task_data, task_root)
        loss_fn = cycle_loss(schedule, self.params["l1_weight"], self.params["ssim_weight"])
        return self.fit(train_images, schedule, cfg, out_dir, loss_fn=loss_fn, callbacks=callbacks,
                        tracking=tracking)

    @classmethod
    def short_schedule(cls, settings: dict[str, Any], steps: int) -> dict[str, Any]:
        """The generic cut, on synthetic degradations (a speed check has none of the paper's training sets)."""
        out = super().short_schedule(settings, steps)
        out.pop("task_data", None)
        out.pop("task_root", None)
        return out

    def probe_noise(self) -> dict[str, Any] | None:
        """A degradation of the first trained task (its decoder restores it)."""
        from denoisebench.papers.p002_durn_mtl.training import NOISE_TASK

        name = next(noise for noise, task in NOISE_TASK.items() if task == self.params["tasks"][0])
        return None if name == "real" else {"name": name}

    def task_for(self, context: DenoiseContext) -> str:
        """The decoder of a cell: from the noise model's name; for real pairs (``noise`` None) from the cell's dataset
        when the caller names it (``context.extra["dataset"]``: GoPro -> blur, SOTS -> haze, DID-MDN -> rain), else
        denoising."""
        from denoisebench.papers.p002_durn_mtl.training import NOISE_TASK, REAL_SET_TASK

        name = "real" if context.noise is None else str(context.noise.get("name"))
        task = REAL_SET_TASK.get(context.extra.get("dataset")) if name == "real" else None
        task = task or NOISE_TASK.get(name)
        if task is None or task not in self.params["tasks"]:
            trained = ", ".join(self.params["tasks"])
            raise ConfigError(f"durn_mtl ({self.params['layout']}): no trained decoder for {name!r} cells (trained "
                              f"tasks: {trained}); restrict the entry with evaluate_on in params.yaml")
        return task

    def denoise(self, noisy: np.ndarray, context: DenoiseContext) -> np.ndarray:
        import torch

        task = self.task_for(context)
        _, x, _ = self.prepare_input(noisy, context)
        with torch.inference_mode():
            out = self._model(x, task)
        return out[0].float().cpu().numpy().transpose(1, 2, 0).copy()

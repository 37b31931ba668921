"""RIDNet retrained on paper 001's meta-transfer pool (Table 2's baseline): method ``ridnet_real``.

The paper trained RIDNet's official network "using our pipeline" on the same SIDD-Small + PolyU pool; TTAID's config
uses Adam lr 1e-4, batch 16, 128 px crops, 150 epochs, and (as its other supervised runs) the L1 loss. Here the pool,
crops, flips and per-step data streams are those of stage 2 (:mod:`.training`); the schedule is a
:class:`~.schedule.MetaSchedule` whose stage-2 fields (``s2_iterations``, ``s2_batch``, ``s2_patch``, ``s2_lr``, the
pool) apply and whose stage-1 fields must be 0 / are ignored.

Config: ``features`` (64), ``reduction`` (16), ``channels`` (3), ``train`` (schedule overrides).
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


@METHODS.register("ridnet_real")
class RIDNetRealMethod(LearnedMethod):
    """RIDNet (Anwar & Barnes 2019) trained with L1 on real noisy/clean pairs."""

    name = "ridnet_real"
    paper = "meta_tta"
    kind = "supervised"
    display_name = "RIDNet"
    DEFAULTS: ClassVar[dict[str, Any]] = {"channels": 3, "features": 64, "reduction": 16, "train": {}}

    @classmethod
    def _validate(cls, config: dict[str, Any]) -> dict[str, Any]:
        p = merged_config(cls.name, cls.DEFAULTS, config)
        if p["channels"] != 3:
            raise ConfigError(f"{cls.name}: channels={p['channels']!r}; RIDNet is trained on RGB pairs here (3)")
        for key in ("features", "reduction"):
            if isinstance(p[key], bool) or not isinstance(p[key], int) or p[key] < 1:
                raise ConfigError(f"{cls.name}: {key}={p[key]!r} must be an integer >= 1")
        if p["features"] % p["reduction"]:
            raise ConfigError(f"{cls.name}: features={p['features']} must be a multiple of reduction={p['reduction']}")
        if not isinstance(p["train"], dict):
            raise ConfigError(f"{cls.name}: train={p['train']!r} must be a mapping of schedule keys")
        return p

    @classmethod
    def short_schedule(cls, settings: dict[str, Any], steps: int) -> dict[str, Any]:
        """``steps`` meta-batches of L1 training on the synthetic pool (no pre-training stage; a speed check has no
        paired real-noise data)."""
        from denoisebench.papers.p001_meta_tta.schedule import SYNTHETIC_POOL

        return {**settings, "s1_epochs": 0, "s2_iterations": steps, "pool": SYNTHETIC_POOL,
                "checkpoint_every": steps + 1, "log_every": max(1, steps // 10)}

    @classmethod
    def schedule_steps(cls, settings: dict[str, Any]) -> int | None:
        """Its optimiser steps: the stage-2 meta-batches."""
        return settings.get("s2_iterations")

    @staticmethod
    def _build(params: dict[str, Any]) -> Any:
        from denoisebench.papers.p001_meta_tta.ridnet import RIDNet

        return RIDNet(params["channels"], params["features"], params["reduction"])

    def train(self, train_images: list[np.ndarray], out_dir: Path, *, train_config: Any = None,
              tracking: dict[str, Any] | None = None, callbacks: Sequence[Any] = (), **kwargs: Any) -> Path:
        """L1 training on the schedule's pool (``train_images`` only supply the synthetic pool of the demo)."""
        import torch

        from denoisebench.papers.p001_meta_tta.schedule import MetaSchedule
        from denoisebench.papers.p001_meta_tta.training import train_supervised_pairs

        if kwargs:
            raise TypeError(f"{self.name}.train: unexpected arguments {sorted(kwargs)}")
        schedule = MetaSchedule.from_dict({"s1_epochs": 0, "s2_lr": 1e-4, **self.params["train"],
                                           **dict(train_config or {})})
        if schedule.s1_epochs:
            raise ConfigError(f"{self.name}: s1_epochs={schedule.s1_epochs}; RIDNet has no pre-training stage (0)")
        torch.manual_seed(schedule.seed)
        model = self.build_network()
        result = train_supervised_pairs(model, train_images, schedule, Path(out_dir),
                                        meta_info={"method": self.name, "method_config": self.params},
                                        tracking=None if tracking is None else {"method": self.name, **tracking},
                                        callbacks=callbacks)
        self.last_result = result
        self._model, self._device = model.eval(), None
        return result.model_path

    def denoise(self, noisy: np.ndarray, context: DenoiseContext) -> np.ndarray:
        import torch

        _, x, _ = self.prepare_input(noisy, context)
        with torch.inference_mode():
            out = self._model(x.contiguous())
        return out[0].float().cpu().numpy().transpose(1, 2, 0).copy()

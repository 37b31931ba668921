"""Paper 001 as a benchmark method: ``meta_tta`` (Gunawan, Nugroho & Park; method-specs 4).

Config (a ``methods.learned`` / ``methods.cascade`` entry; paper values by default):
    architecture: ``sequential`` (the paper's multi-task net) or ``chi`` (Table 1's Chi et al. baseline as the
        authors ran it: TTAID ``RestorationNetV0``).
    stage1: ``maxl`` (Alg. 1), ``plain`` (L_Pri + L_Aux by Adam, Table 1's non-MAXL rows) or ``none`` (random
        init: Table 3's RI rows, or a cascade entry that starts from ``init_checkpoint``).
    stage1_aux: ``mrl`` (masked reconstruction) or ``rl`` (L_Rec); lambda_g: weight of L_G in the mask update
        (0.01; 0 gives Table 1's "MAXL + L_MaskRec" row); stage1_noise: the synthetic degradation (composite).
    stage2: run meta-transfer (Alg. 2); stage2_aux: ``mrl`` | ``rl`` (Table 3's MRL vs RL); inner_steps: K of the
        inner loop (paper 5; the official code's loop is effectively 1); inner_scope: ``heads`` (paper) or ``all``
        (Table 3's body+head row); inner_lr (alpha 5e-5), inner_weight / outer_weight (lambda_in / lambda_out 10).
    meta_test: ``code`` (Adam lr 1e-5, 4 effective updates, first head conv frozen), ``paper`` (Alg. 3: K plain
        gradient steps on all heads) or ``none`` (Table 2's "without meta-testing"); meta_test_steps (5),
        meta_test_lr (1e-5); the auxiliary loss of meta-test is ``stage2_aux`` with the mask binarised at 0.5.
    init_checkpoint: a ``model.pt`` of another ``meta_tta`` entry to start from (its weights; fresh optimisers).
    train: schedule overrides (:class:`~.schedule.MetaSchedule` keys).

Per test image ``denoise`` leaves in ``context.extra["zeroshot"]`` the adaptation's update count and seconds (the
predict stage's ``iterations`` / ``train_seconds`` timing columns) and in ``context.extra["meta_test"]`` the
estimate before adaptation and the binarised mask.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from denoisebench.checkpoints import load_verified
from denoisebench.errors import ConfigError
from denoisebench.methods._config import merged_config
from denoisebench.methods.base import METHODS, DenoiseContext
from denoisebench.methods.learned import LearnedMethod

CHOICES = {
    "architecture": ("sequential", "chi"), "stage1": ("maxl", "plain", "none"), "stage1_aux": ("mrl", "rl"),
    "stage2_aux": ("mrl", "rl"), "inner_scope": ("heads", "all"), "meta_test": ("code", "paper", "none"),
}


@METHODS.register("meta_tta")
class MetaTTAMethod(LearnedMethod):
    """Multi-task denoiser + mask net, MAXL pre-training, meta-transfer and per-image test-time adaptation."""

    name = "meta_tta"
    paper = "meta_tta"
    kind = "meta-learning"
    display_name = "meta-TTA (paper 001)"
    choices = ("Stage-1 data: CBSD432 crops stand in for DIV2K offline", ("meta-transfer pool: PolyU train split "
               "(SIDD-Small not available offline)"))
    DEFAULTS: ClassVar[dict[str, Any]] = {
        "architecture": "sequential", "channels": 3, "stage1": "maxl", "stage1_aux": "mrl", "lambda_g": 0.01,
        "stage1_noise": {"name": "composite"}, "stage2": True, "stage2_aux": "mrl", "inner_steps": 5,
        "inner_scope": "heads", "inner_lr": 5e-5, "inner_weight": 10.0, "outer_weight": 10.0, "meta_test": "code",
        "meta_test_steps": 5, "meta_test_lr": 1e-5, "init_checkpoint": None, "train": {},
    }

    @classmethod
    def _validate(cls, config: dict[str, Any]) -> dict[str, Any]:
        p = merged_config(cls.name, cls.DEFAULTS, config)
        for key, valid in CHOICES.items():
            if p[key] not in valid:
                raise ConfigError(f"{cls.name}: {key}={p[key]!r} must be one of {', '.join(valid)}")
        if p["channels"] != 3:
            raise ConfigError(f"{cls.name}: channels={p['channels']!r}; the paper's networks are RGB (3)")
        if not isinstance(p["stage2"], bool):
            raise ConfigError(f"{cls.name}: stage2={p['stage2']!r} must be true or false")
        for key in ("inner_steps", "meta_test_steps"):
            if isinstance(p[key], bool) or not isinstance(p[key], int) or p[key] < 1:
                raise ConfigError(f"{cls.name}: {key}={p[key]!r} must be an integer >= 1")
        for key in ("lambda_g", "inner_lr", "inner_weight", "outer_weight", "meta_test_lr"):
            if isinstance(p[key], bool) or not isinstance(p[key], (int, float)) or p[key] < 0:
                raise ConfigError(f"{cls.name}: {key}={p[key]!r} must be a number >= 0")
        if not isinstance(p["train"], dict):
            raise ConfigError(f"{cls.name}: train={p['train']!r} must be a mapping of schedule keys")
        if p["stage1"] == "none" and not p["stage2"] and p["init_checkpoint"] is None:
            raise ConfigError(f"{cls.name}: stage1=none and stage2=false train nothing; give init_checkpoint "
                              "(a model.pt of another meta_tta entry) or enable a stage")
        return p

    @staticmethod
    def _build(params: dict[str, Any]) -> Any:
        from denoisebench.papers.p001_meta_tta.network import MetaTTANet

        return MetaTTANet(params["architecture"], params["channels"])

    def parameter_count(self) -> int:
        """Multi-task net + mask net (the paper's 0.66 M)."""
        from denoisebench.models import count_parameters

        return count_parameters(self.build_network())

    def _init_state(self) -> dict[str, Any] | None:

        path = self.params["init_checkpoint"]
        if path is None:
            return None
        if not Path(path).is_file():
            raise ConfigError(f"{self.name}: init_checkpoint {path} not found; train that entry first (dvc repro)")
        ckpt = load_verified(path)
        if not isinstance(ckpt, dict) or ckpt.get("method") != self.name:
            raise ConfigError(f"{self.name}: init_checkpoint {path} is not a meta_tta model.pt")
        if ckpt["method_config"]["architecture"] != self.params["architecture"]:
            raise ConfigError(f"{self.name}: init_checkpoint {path} has architecture "
                              f"{ckpt['method_config']['architecture']!r}, this entry {self.params['architecture']!r}")
        return ckpt["model"]

    @classmethod
    def short_schedule(cls, settings: dict[str, Any], steps: int) -> dict[str, Any]:
        """``steps`` steps of both stages (one stage-1 epoch of two passes, then the meta-batches) on the synthetic
        pool (a speed check has no paired real-noise data)."""
        from denoisebench.papers.p001_meta_tta.schedule import SYNTHETIC_POOL

        passes = max(1, steps // 4)
        return {**settings, "s1_epochs": 1, "s1_steps": passes, "s2_iterations": max(1, steps - 2 * passes),
                "pool": SYNTHETIC_POOL, "checkpoint_every": steps + 1, "log_every": max(1, steps // 10)}

    @classmethod
    def schedule_steps(cls, settings: dict[str, Any]) -> int | None:
        """Both stages' steps (stage 1: two passes per epoch; stage 2: meta-batches)."""
        from denoisebench.papers.p001_meta_tta.schedule import MetaSchedule

        return MetaSchedule.from_dict(settings).total_steps

    def train(self, train_images: list[np.ndarray], out_dir: Path, *, train_config: Any = None,
              tracking: dict[str, Any] | None = None, callbacks: Sequence[Any] = (), **kwargs: Any) -> Path:
        """Stage 1 on ``train_images`` (clean; composite noise on the fly), then stage 2 on the schedule's pool."""
        import torch

        from denoisebench.papers.p001_meta_tta.schedule import MetaSchedule
        from denoisebench.papers.p001_meta_tta.training import train_meta_tta

        if kwargs:
            raise TypeError(f"{self.name}.train: unexpected arguments {sorted(kwargs)}")
        schedule = MetaSchedule.from_dict({**self.params["train"], **dict(train_config or {})})
        self.check_channels(train_images)
        torch.manual_seed(schedule.seed)
        model = self.build_network()
        result = train_meta_tta(model, self.params, train_images, schedule, Path(out_dir),
                                meta_info={"method": self.name, "method_config": self.params},
                                tracking=None if tracking is None else {"method": self.name, **tracking},
                                callbacks=callbacks, init_state=self._init_state())
        self.last_result = result
        self._model, self._device = model.eval(), None
        return result.model_path

    def denoise(self, noisy: np.ndarray, context: DenoiseContext) -> np.ndarray:
        import torch

        from denoisebench.papers.p001_meta_tta.meta import meta_test

        _, x, _ = self.prepare_input(noisy, context)
        x = x.contiguous()
        p = self.params
        if p["meta_test"] == "none":
            with torch.inference_mode():
                out = self._model.net(x)[0].clamp(0, 1)
            return _to_image(out)
        result = meta_test(self._model, x, p["meta_test"], p["meta_test_steps"], p["meta_test_lr"], p["stage2_aux"])
        info = {"iterations": result.updates, "train_seconds": result.adapt_seconds}
        self.last_info = {**info, "aux_losses": result.aux_losses}
        context.extra["zeroshot"] = info
        context.extra["meta_test"] = {"before": _to_image(result.before),
                                      "mask": _to_image((result.mask > 0.5).float()), **info}
        return _to_image(result.after)


def _to_image(t: Any) -> np.ndarray:
    return t.detach()[0].float().cpu().numpy().transpose(1, 2, 0).copy()

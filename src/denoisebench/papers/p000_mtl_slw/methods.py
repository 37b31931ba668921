"""Seed 000 (Xiang, Tang & Zhou 2024, "Multi-task learning with self-learning weight for image denoising").

Two methods, one per host network, each trainable as the plain MSE baseline or with the paper's two strategies:

- ``mtl_dae``: the convolutional DAE (**a reconstruction**: the paper's layer table is missing; method-specs
  3(a)), default training noise AWGN sigma ~ U[5, 50] blind;
- ``mtl_cbdnet``: CBDNet (noise estimator + non-blind U-Net) with CBDNet's asymmetric and TV losses on the noise
  map kept in every strategy; default training noise the CBDNet camera pipeline (HG + ISP).

Config (a ``methods.learned`` entry):
    strategy: ``mse`` (baseline), ``s1`` (weighted sum of the sub-task losses) or ``s2`` (task switching).
    weighting: for s1, a name of :data:`~denoisebench.papers.p000_mtl_slw.weighting.WEIGHTINGS` (``slw``,
        ``uncertainty``, ``equal``, ``mgda``); weighting_params: its keyword arguments (e.g. ``{grad_norm: l2,
        lr: 0.1, inner_steps: 1}``; ``grad_norm``, for slw/mgda, is the gradient normalisation ``none`` | ``l2`` |
        ``loss`` | ``loss+`` of Sener & Koltun's code, default ``l2``).
    tasks: sub-task losses, MSE first (default [mse, ssim, kl]).
    grad_params: ``last`` (default) or ``all``: parameters MGDA's per-task gradients are taken on.
    switch_every, switch_order: the s2 schedule (steps per task turn; visiting order, default ``tasks``).
    train_noise: training noise spec (awgn / hetero_gaussian / cbdnet, ...).
    crf_dir: CRF tables folder for ``cbdnet`` noise (``<data root>/CBDNet_CRF``, the ``cbdnet_crf`` dataset).
    val_holdout: the last N training images (at most a quarter of the set; none for fewer than 4 images) are
        held out and give the validation PSNR curve (every ``val_every`` steps).
    train: TrainConfig overrides. asym_weight, asym_alpha, tv_weight: CBDNet's noise-map losses (cbdnet only).

The paper's training sets (STL-10 96x96 for the DAE, 1,200 DND images for CBDNet) are not available offline; the
pipeline's entries use CBSD432 patches of the same sizes instead (see docs/paper_000.md).
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

STRATEGY_NAMES = ("mse", "s1", "s2")


class MTLMethod(LearnedMethod):
    """Shared implementation; subclasses name the backbone, its defaults and whether it has a noise estimator."""

    paper = "mtl_slw"
    kind = "multi-task"
    needs_training = True
    backbone: ClassVar[str]
    has_sigma: ClassVar[bool] = False
    DEFAULT_TRAIN: ClassVar[dict[str, Any]]
    COMMON: ClassVar[dict[str, Any]] = {
        "strategy": "mse", "weighting": "slw", "weighting_params": {}, "tasks": ["mse", "ssim", "kl"],
        "grad_params": "last", "switch_every": 1, "switch_order": None, "crf_dir": None, "val_holdout": 0,
        "channels": 3, "train": {}, "amp": False,
    }
    EXTRA: ClassVar[dict[str, Any]] = {}

    @classmethod
    def defaults(cls) -> dict[str, Any]:
        return {**cls.COMMON, **cls.EXTRA}

    @classmethod
    def _validate(cls, config: dict[str, Any]) -> dict[str, Any]:
        from denoisebench.papers.p000_mtl_slw.losses import TASK_LOSSES
        from denoisebench.papers.p000_mtl_slw.weighting import WEIGHTINGS

        p = merged_config(cls.name, cls.defaults(), config)
        if p["strategy"] not in STRATEGY_NAMES:
            raise ConfigError(f"{cls.name}: strategy={p['strategy']!r} must be one of {', '.join(STRATEGY_NAMES)}")
        if p["strategy"] == "s1" and p["weighting"] not in WEIGHTINGS:
            raise ConfigError(f"{cls.name}: weighting={p['weighting']!r} must be one of {', '.join(WEIGHTINGS.names())}")
        tasks = list(p["tasks"])
        if not tasks or tasks[0] != "mse" or len(set(tasks)) != len(tasks) or any(t not in TASK_LOSSES for t in tasks):
            raise ConfigError(f"{cls.name}: tasks={tasks!r} must be distinct names of {', '.join(TASK_LOSSES.names())}"
                              ", starting with 'mse'")
        if p["channels"] != 3:
            raise ConfigError(f"{cls.name}: channels={p['channels']!r}; only RGB (3) models are defined by the paper")
        for key in ("weighting_params", "train"):
            if not isinstance(p[key], dict):
                raise ConfigError(f"{cls.name}: {key}={p[key]!r} must be a mapping")
        if isinstance(p["val_holdout"], bool) or not isinstance(p["val_holdout"], int) or p["val_holdout"] < 0:
            raise ConfigError(f"{cls.name}: val_holdout={p['val_holdout']!r} must be an integer >= 0")
        return p

    # ----- construction -----
    def build_network(self) -> Any:
        """A fresh :class:`~denoisebench.papers.p000_mtl_slw.objective.MTLNetwork` (backbone + weighting / task heads)."""
        from denoisebench.models import build_model
        from denoisebench.papers.p000_mtl_slw.objective import MTLNetwork
        from denoisebench.papers.p000_mtl_slw.switching import TaskSwitcher
        from denoisebench.papers.p000_mtl_slw.weighting import build_weighting

        p = self.params
        net = build_model(self.backbone, channels=p["channels"])
        weighting = build_weighting(p["weighting"], p["tasks"], **p["weighting_params"]) if p["strategy"] == "s1" else None
        switcher = (TaskSwitcher(p["tasks"], net.head, p["switch_order"], p["switch_every"])
                    if p["strategy"] == "s2" else None)
        return MTLNetwork(net, weighting, switcher)

    def objective(self) -> Any:
        from denoisebench.papers.p000_mtl_slw.objective import Objective

        p = self.params
        terms = {k: float(p[k]) for k in ("asym_weight", "asym_alpha", "tv_weight")} if self.has_sigma else None
        return Objective(strategy=p["strategy"], tasks=tuple(p["tasks"]), grad_params=p["grad_params"],
                         sigma_terms=terms)

    def train_noise(self) -> Any:
        """The training noise model (``crf_dir`` inserted for the camera pipeline)."""
        from denoisebench.noise import build_noise, parse_noise_spec

        spec = parse_noise_spec(self.params["train_noise"]).to_dict()
        if spec["name"] == "cbdnet" and self.params["crf_dir"] and "crf_dir" not in spec:
            spec["crf_dir"] = str(self.params["crf_dir"])
        return build_noise(spec)

    def parameter_count(self) -> int:
        """Parameters of the denoiser used at test time (task heads and weighting parameters excluded)."""
        from denoisebench.models import count_parameters

        return count_parameters(self.build_network().net)

    # ----- training -----
    def train(self, train_images: list[np.ndarray], out_dir: Path, *, train_config: Any = None, noise: Any = None,
              val_images: Sequence[np.ndarray] | None = None, tracking: dict[str, Any] | None = None,
              callbacks: Sequence[Any] = (), **kwargs: Any) -> Path:
        """Train on clean images with noise synthesised on the fly; write ``model.pt``, ``history.csv`` and, for
        s1, ``weights.csv`` (the weights of every step) in ``out_dir``; return the path of ``model.pt``."""
        import torch

        from denoisebench.papers.p000_mtl_slw.objective import (History, PassThroughNoise, SigmaMapNoise, WeightTrace,
                                                                make_loss_fn)
        from denoisebench.training import TrainConfig, psnr_validator, train_model

        if kwargs:
            raise TypeError(f"{self.name}.train: unexpected arguments {sorted(kwargs)}")
        if isinstance(train_config, TrainConfig):
            cfg = train_config
        else:
            cfg = TrainConfig.from_dict({**self.DEFAULT_TRAIN, **self.params["train"], **dict(train_config or {})})
        images = list(train_images)
        bad = [i for i, img in enumerate(images) if np.ndim(img) != 3 or img.shape[2] != 3]
        if bad:
            raise ConfigError(f"{self.name}: training images {bad[:5]} are not RGB (H, W, 3); use a colour training set")
        holdout = min(self.params["val_holdout"], len(images) // 4)  # never more than a quarter of the set
        if holdout and val_images is None:
            images, val_images = images[:-holdout], images[-holdout:]
        noise = noise if noise is not None else self.train_noise()
        torch.manual_seed(cfg.seed)
        model = self.build_network()
        history = History(Path(out_dir))
        traces = [WeightTrace(Path(out_dir), model.weighting)] if model.weighting is not None else []
        synth = SigmaMapNoise(noise, cfg.seed) if self.has_sigma else None
        validate = history.wrap_validator(psnr_validator(val_images, noise, seed=cfg.seed)) if val_images else None
        tracking = None if tracking is None else {"method": self.name, **tracking}
        result = train_model(
            model, images, PassThroughNoise(noise) if synth else noise, cfg, out_dir,
            loss_fn=make_loss_fn(self.objective(), synth), validate=validate,
            callbacks=[history.callback, *(t.callback for t in traces), *callbacks],
            meta={"method": self.name, "method_config": self.params}, tracking=tracking,
            stateful=[history, *traces],
        )
        self.last_result = result
        self._model, self._device = model.eval(), None
        return result.model_path

    def denoise(self, noisy: np.ndarray, context: DenoiseContext) -> np.ndarray:
        import torch

        _, x, device = self.prepare_input(noisy, context)
        with torch.inference_mode():
            with torch.autocast("cuda", dtype=torch.float16, enabled=device.startswith("cuda") and self.params["amp"]):
                out = self._model(x)
        return out.float()[0].cpu().numpy().transpose(1, 2, 0).copy()


@METHODS.register("mtl_dae")
class MTLDAEMethod(MTLMethod):
    """DAE (reconstructed architecture) trained with MSE or the paper's multi-task strategies."""

    name = "mtl_dae"
    backbone = "dae"
    #: method-specs 3(c): Adam (0.9, 0.999), lr 3e-4, batch 32 [choice], 96x96 patches, no lr decay.
    DEFAULT_TRAIN = {"batch_size": 32, "patch_size": 96, "optimizer": "adam", "lr": 3e-4}
    EXTRA = {"train_noise": {"name": "awgn", "sigma_range": [5, 50]}}


@METHODS.register("mtl_cbdnet")
class MTLCBDNetMethod(MTLMethod):
    """CBDNet trained with its own loss (MSE + asymmetric + TV) or with the MTL block replacing the MSE."""

    name = "mtl_cbdnet"
    backbone = "cbdnet"
    has_sigma = True
    #: IDKiro/CBDNet-pytorch: Adam lr 2e-4, batch 32, 128x128 patches (the CBDNet paper's schedule not re-read).
    DEFAULT_TRAIN = {"batch_size": 32, "patch_size": 128, "optimizer": "adam", "lr": 2e-4}
    EXTRA = {"train_noise": {"name": "cbdnet"}, "asym_weight": 0.5, "asym_alpha": 0.3, "tv_weight": 0.05}

"""Checkpoint selection of paper 001's stage 2 (``select`` of the schedule).

- ``last``: the final weights.
- ``official``: TTAID's ``model_best.pth`` rule (``trainer/trainer.py`` with
  ``RealDenoiserMetaTransfer.validate`` in training mode): after every stage-2 epoch (``select_every``
  meta-batches; 130 = 260 pool pairs / batch 2 in the paper) the model is meta-tested on 128 px centre crops
  (torchvision ``CenterCrop``) of the training pool, each image alone: Adam at the stage-2 learning rate, 5
  iterations with the *soft* mask, the first head tensor frozen (:func:`~.meta.meta_test`, variant ``code``,
  not binarised); the score is the mean PSNR after adaptation (``ttaid``: clamped, float); a strictly better
  score than every earlier one (starting from 0) keeps that epoch's weights.

The selector's state (best score, its step and weights, the history) travels in the resume checkpoint, so an
interrupted run selects as an uninterrupted one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

#: Rules of ``select``.
SELECTION_RULES = ("last", "official")


@dataclass
class BestSelector:
    """Scores the model on ``pairs`` every ``every`` stage-2 steps (and at the last step); keeps the best weights."""

    pairs: list[tuple[torch.Tensor, torch.Tensor]]
    first: int
    total: int
    every: int
    lr: float
    best: float = 0.0
    best_step: int | None = None
    best_model: dict[str, torch.Tensor] | None = None
    history: list[tuple[int, float]] = field(default_factory=list)

    def due(self, step: int) -> bool:
        return step > self.first and ((step - self.first) % self.every == 0 or step == self.total)

    def after_step(self, step: int, model: Any) -> None:
        """Validate at the end of a stage-2 epoch; keep the weights when the score beats every earlier one."""
        if not self.due(step):
            return
        score = self.score(model)
        self.history.append((step, score))
        if score > self.best:
            self.best, self.best_step = score, step
            self.best_model = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}

    def score(self, model: Any) -> float:
        """Mean PSNR after adaptation (soft mask, clamped output) over the validation pairs."""
        from denoisebench.metrics import PROTOCOLS, evaluate_pair
        from denoisebench.papers.p001_meta_tta.meta import meta_test

        device = next(model.parameters()).device
        values = []
        for noisy, clean in self.pairs:
            result = meta_test(model, noisy.to(device), "code", steps=5, lr=self.lr, binarize=False)
            out = result.after[0].detach().cpu().double().numpy().transpose(1, 2, 0)
            if not np.isfinite(out).all():  # a diverged model scores NaN: never better than an earlier one
                return float("nan")
            values.append(evaluate_pair(clean[0].double().numpy().transpose(1, 2, 0), out, PROTOCOLS["ttaid"])["psnr"])
        return float(np.mean(values))

    def state_dict(self) -> dict[str, Any]:
        return {"best": self.best, "best_step": self.best_step, "best_model": self.best_model,
                "history": [list(h) for h in self.history]}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best, self.best_step, self.best_model = state["best"], state["best_step"], state["best_model"]
        self.history = [(int(s), float(v)) for s, v in state["history"]]

    def summary(self) -> dict[str, Any]:
        return {"rule": "official", "best_step": self.best_step, "best_psnr": self.best,
                "validated": len(self.history), "images": len(self.pairs)}


def validation_pairs(noisy: list[np.ndarray], clean: list[np.ndarray], crop: int,
                     limit: int | None) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """(noisy, clean) (1, C, crop, crop) tensors: torchvision-style centre crops of the first ``limit`` pool pairs."""
    from denoisebench.papers.p001_meta_tta.metatest import center_crop_padded

    out = []
    for n, c in list(zip(noisy, clean))[:limit]:
        pair = [torch.from_numpy(np.ascontiguousarray(center_crop_padded(np.asarray(a, np.float32), crop)
                                                      .transpose(2, 0, 1)))[None] for a in (n, c)]
        out.append((pair[0], pair[1]))
    return out

"""The training schedule of a paper-001 entry (``train.<entry>.<profile>`` of params.yaml, minus the dataset keys).

Stage 1 (pre-training) counts in epochs of passes of ``s1_steps`` batches each: two under MAXL (theta1 pass, then
theta2 pass), one for plain training (one theta1 update per batch), as the official loops do (DIV2K: 800 images /
batch 16 = 50 steps per pass). Stage 2 (meta-transfer) counts meta-batches. Both stages form one step counter (stage 1's steps first), which is what checkpoints and
curves are indexed by.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from denoisebench.errors import ConfigError
from denoisebench.papers.p001_meta_tta.selection import SELECTION_RULES
from denoisebench.validation import reject_unknown_keys

#: Passes per stage-1 epoch by kind of stage 1 (``stage1`` of the method config).
STAGE1_PASSES = {"maxl": 2, "plain": 1, "none": 0}

#: Meta-transfer pools: a paired real-noise dataset of the registry, or ``synthetic`` (the stage-1 clean images
#: with the composite noise drawn once per image: a smoke-test stand-in for the demo profile only).
SYNTHETIC_POOL = "synthetic"


@dataclass(frozen=True)
class MetaSchedule:
    """Attributes (paper values in brackets, method-specs 4(c)):

    s1_epochs: stage-1 epochs [150]; s1_steps: batches per pass [50]; s1_batch [16]; s1_patch [128];
    s1_lr: Adam lr of theta1 and theta2 and the MAXL look-ahead step [1e-3].
    s2_iterations: meta-batches of stage 2 [150 epochs x 130 = 19,500 on SIDD-Small + PolyU]; s2_batch [2];
    s2_patch [128]; s2_lr: outer Adam lr [5e-5].
    pool: the stage-2 pairs: ``synthetic``, a dataset name, or a list of ``name`` / ``name/split`` items pooled
    together (unbiased sampling over the union) [SIDD-Small + PolyU]; pool_split: the split of a single-name pool;
    pool_limit: first N pairs of each dataset; pool_root: the data root.
    select: checkpoint selection, ``last`` (final weights) or ``official`` (TTAID's ``model_best.pth``: PSNR after
    adaptation, soft mask, on ``select_crop`` px centre crops of the first ``select_images`` pool pairs, every
    ``select_every`` meta-batches; :mod:`.selection`) [official, every 130, crop 128, all pairs].
    seed [12345]; checkpoint_every / log_every: steps; device: auto | cpu | cuda[:N].
    nproc: processes of a data-parallel run under ``torchrun`` (the ``train`` stage relaunches itself; result-neutral:
    ``s1_batch`` and ``s2_batch`` stay the effective batches and must divide by it).
    """

    s1_epochs: int = 150
    s1_steps: int = 50
    s1_batch: int = 16
    s1_patch: int = 128
    s1_lr: float = 1e-3
    s2_iterations: int = 19500
    s2_batch: int = 2
    s2_patch: int = 128
    s2_lr: float = 5e-5
    pool: str | tuple[str, ...] = "polyu"
    pool_split: str | None = "train"
    pool_limit: int | None = None
    pool_root: str = "data/raw"
    select: str = "last"
    select_every: int = 130
    select_crop: int = 128
    select_images: int | None = None
    seed: int = 12345
    checkpoint_every: int = 50
    log_every: int = 10
    device: str = "auto"
    nproc: int = 1

    def __post_init__(self) -> None:
        for name in ("s1_epochs", "s1_steps", "s2_iterations", "seed"):
            _int(name, getattr(self, name), 0)
        for name in ("s1_batch", "s1_patch", "s2_batch", "s2_patch", "checkpoint_every", "log_every", "nproc"):
            _int(name, getattr(self, name), 1)
        if isinstance(self.pool, list):
            object.__setattr__(self, "pool", tuple(self.pool))
        items = self.pool if isinstance(self.pool, tuple) else (self.pool,)
        if not items or not all(isinstance(i, str) and i for i in items):
            raise ConfigError(f"train config: pool={self.pool!r} must be 'synthetic', a dataset name or a list of "
                              "'name' / 'name/split' items")
        if self.pool_limit is not None:
            _int("pool_limit", self.pool_limit, 1)
        if self.select_images is not None:
            _int("select_images", self.select_images, 1)
        for name in ("select_every", "select_crop"):
            _int(name, getattr(self, name), 1)
        if self.select not in SELECTION_RULES:
            raise ConfigError(f"train config: select={self.select!r} must be one of {', '.join(SELECTION_RULES)}")
        for name in ("s1_lr", "s2_lr"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
                raise ConfigError(f"train config: {name}={value!r} must be a positive number")
        if not isinstance(self.device, str) or not (self.device in ("auto", "cpu") or self.device.startswith("cuda")):
            raise ConfigError(f"train config: device={self.device!r} must be 'auto', 'cpu', 'cuda' or 'cuda:N'")

    @property
    def stage1_steps(self) -> int:
        """Steps of stage 1 under MAXL (two passes per epoch: theta1, then the mask net)."""
        return self.stage1_steps_of("maxl")

    def stage1_steps_of(self, stage1: str) -> int:
        """Steps of stage 1 of the given kind: MAXL two passes per epoch, plain one (the official baseline makes
        one theta1 update per batch; the mask pass is MAXL's), none zero."""
        return self.s1_epochs * STAGE1_PASSES[stage1] * self.s1_steps

    @property
    def total_steps(self) -> int:
        return self.stage1_steps + self.s2_iterations

    def locate(self, step: int) -> tuple[str, int]:
        """``("s1_aux" | "s1_mask", epoch)`` or ``("s2", iteration)`` of global step ``step`` (1-based)."""
        if step <= self.stage1_steps:
            epoch, within = divmod(step - 1, 2 * self.s1_steps)
            return ("s1_aux" if within < self.s1_steps else "s1_mask"), epoch + 1
        return "s2", step - self.stage1_steps

    @classmethod
    def from_dict(cls, values: dict[str, Any] | None) -> MetaSchedule:
        """From a params mapping; unknown keys raise a ConfigError listing the valid ones."""
        values = dict(values or {})
        reject_unknown_keys(cls, values)
        return cls(**values)

    def pool_sets(self) -> list[tuple[str, str | None]]:
        """(dataset, split) of every pooled set (``pool_split`` applies to a single name without a split)."""
        items = self.pool if isinstance(self.pool, tuple) else (self.pool,)
        out = []
        for item in items:
            name, _, split = item.partition("/")
            out.append((name, split or (self.pool_split if isinstance(self.pool, str) else None)))
        return out

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["pool"] = list(self.pool) if isinstance(self.pool, tuple) else self.pool
        return out


#: Fields that do not change the trained weights (left out of the resume hash).
RESULT_NEUTRAL = frozenset({"checkpoint_every", "log_every", "device", "pool_root", "nproc"})


def _int(name: str, value: Any, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(f"train config: {name}={value!r} must be an integer >= {minimum}")

"""Blind2Grad (Song, Shuai, Si & Li, AIMS Mathematics 10(6), 2025): zero-shot blind-spot denoising with a dual
mask, the gradient-regularised loss (eq. 3.9) and T-standout.

Zero-shot: ``denoise`` trains a fresh network on the noisy test image alone (seeded by ``context.seed``, on
``context.device``) and returns the average of ``n_avg`` stochastic passes. Training runs ``cycles`` cycles of
``iterations`` Adam steps each (Algorithm 1, eq. 3.10): cycle 1 masks with a Bernoulli mask, later cycles with the
dual mask computed from the previous cycle's estimate.

Config (every piece switchable for the ablations of section 5.4):
    variant: "synthetic" (default) or "real" (dilated full-resolution convs; omega 0.5, lr 1e-5, pixel-level masks).
    mask: dual | bernoulli | uniform (the DM / BM / UM ablation); mask_rate 0.25; eps_g 40; p_detail 0.10;
        p_flat_max 0.5; detail_window 3 and eps_g_sigma_ref 25 (the detail map thresholds the 3 x 3 RMS residual
        at eps_g x sigma_hat / 25; 1 and null: the paper's per-pixel rule at a fixed 40);
        mask_granularity pixel | element (null: element synthetic, pixel real).
    tstandout: true/false; eps_s 25; tstandout_p 0.3.
    omega (null: 0.8 synthetic, 0.5 real), gamma 0.5; full_branch_grad false (stop-gradient on f(y)).
    cycles 3, iterations 3000 (per cycle), lr (null: 2e-5 synthetic, 1e-5 real), n_avg 40, n_avg_cycle 10 (passes
        that form the estimate which drives the next cycle's dual mask).
    gradient_layer, attention: architecture switches (both true).

After ``denoise`` the attribute ``last_info`` (and ``context.extra["zeroshot"]``) holds the per-image record:
iterations, cycles, final loss parts, detail fraction of the last dual mask, training and inference seconds.
"""

from __future__ import annotations

import time
from typing import Any, ClassVar

import numpy as np

from denoisebench.errors import ConfigError
from denoisebench.methods._config import merged_config
from denoisebench.methods.base import METHODS, DenoiseContext, Method

VARIANTS: dict[str, dict[str, Any]] = {
    "synthetic": {"omega": 0.8, "lr": 2e-5, "dilation": 1, "mask_granularity": "element"},
    "real": {"omega": 0.5, "lr": 1e-5, "dilation": 2, "mask_granularity": "pixel"},
}


@METHODS.register("blind2grad")
class Blind2Grad(Method):
    """Blind2Grad: per-image training with dual masks, gradient-regularised loss and T-standout."""

    name = "blind2grad"
    paper = "blind2grad"
    kind = "zero-shot"
    needs_training = False
    DEFAULTS: ClassVar[dict[str, Any]] = {
        "variant": "synthetic", "mask": "dual", "mask_rate": 0.25, "eps_g": 40.0, "p_detail": 0.10,
        "p_flat_max": 0.5, "detail_window": 3, "eps_g_sigma_ref": 25.0, "mask_granularity": None,
        "tstandout": True, "eps_s": 25.0, "tstandout_p": 0.3,
        "omega": None, "gamma": 0.5, "full_branch_grad": False, "cycles": 3, "iterations": 3000, "lr": None,
        "n_avg": 40, "n_avg_cycle": 10, "gradient_layer": True, "attention": True,
        "enc_width": 48, "dec_width": 96,
    }

    def __init__(self, config: dict[str, Any] | None = None) -> None:
        super().__init__(config)
        self.params = self._validate(merged_config(self.name, self.DEFAULTS, self.config))
        self._mask_sampler()  # validates the mask options now rather than at the first image
        self.last_info: dict[str, Any] = {}
        self.snapshots: list[Any] = []

    @classmethod
    def _validate(cls, p: dict[str, Any]) -> dict[str, Any]:
        from denoisebench.papers.p003_blind2grad.common import check_fraction, check_positive_int
        from denoisebench.papers.p003_blind2grad.masks import MASKS

        if p["variant"] not in VARIANTS:
            raise ConfigError(f"blind2grad: variant={p['variant']!r} must be one of {', '.join(VARIANTS)}")
        if p["mask"] not in MASKS:
            raise ConfigError(f"blind2grad: mask={p['mask']!r} must be one of {', '.join(MASKS.names())}")
        for key, value in VARIANTS[p["variant"]].items():
            if key in p and p[key] is None:
                p[key] = value
        p["dilation"] = VARIANTS[p["variant"]]["dilation"]
        check_positive_int(cls.name, p, "cycles", "iterations", "n_avg", "n_avg_cycle", "enc_width", "dec_width")
        check_fraction(cls.name, p, "mask_rate")
        check_fraction(cls.name, p, "tstandout_p", "p_detail", closed=True)
        for key in ("omega", "gamma", "eps_g", "eps_s", "lr"):
            v = p[key]
            if isinstance(v, bool) or not isinstance(v, (int, float)) or v < 0 or (key == "lr" and v == 0):
                raise ConfigError(f"blind2grad: {key}={v!r} must be a number >= 0" + (" (> 0)" if key == "lr" else ""))
        for key in ("tstandout", "full_branch_grad", "gradient_layer", "attention"):
            if not isinstance(p[key], bool):
                raise ConfigError(f"blind2grad: {key}={p[key]!r} must be true or false")
        return p

    def build_network(self, channels: int = 3) -> Any:
        """A fresh :class:`~denoisebench.papers.p003_blind2grad.network.Blind2GradNet` of this configuration."""
        from denoisebench.papers.p003_blind2grad.network import Blind2GradNet

        p = self.params
        return Blind2GradNet(channels=channels, enc_width=p["enc_width"], dec_width=p["dec_width"],
                             dilation=p["dilation"], gradient_layer=p["gradient_layer"], attention=p["attention"],
                             tstandout_p=p["tstandout_p"], eps_s=p["eps_s"], tstandout=p["tstandout"])

    def parameter_count(self) -> int:
        from denoisebench.models import count_parameters

        return count_parameters(self.build_network(3))

    def _mask_sampler(self) -> Any:
        from denoisebench.papers.p003_blind2grad.masks import build_mask

        p = self.params
        kwargs: dict[str, Any] = {"rate": p["mask_rate"], "granularity": p["mask_granularity"]}
        if p["mask"] == "dual":
            kwargs.update(eps_g=p["eps_g"], p_detail=p["p_detail"], p_flat_max=p["p_flat_max"],
                          detail_window=p["detail_window"], eps_g_sigma_ref=p["eps_g_sigma_ref"])
        return build_mask(p["mask"], **kwargs)

    def denoise(self, noisy: np.ndarray, context: DenoiseContext) -> np.ndarray:
        import torch

        from denoisebench.papers.p003_blind2grad.averaging import average_passes
        from denoisebench.papers.p003_blind2grad.common import prepare_input, publish_run, seeded, tensor_to_image
        from denoisebench.papers.p003_blind2grad.losses import blind2grad_loss

        p = self.params
        prepared = prepare_input(self.name, noisy, context.device, context.extra, multiple=32)
        y, (h, w), recorder = prepared.tensor, prepared.size, prepared.recorder
        sampler = self._mask_sampler()
        start = time.perf_counter()
        with seeded(context.seed) as gen:
            model = self.build_network(prepared.image.shape[2]).to(y.device).train()
            model.set_generator(gen)
            opt = torch.optim.Adam(model.parameters(), lr=p["lr"])
            ones = torch.ones_like(y[:, :1])
            estimate: torch.Tensor | None = None
            guide: torch.Tensor | None = None

            def predict(n: int) -> torch.Tensor:
                def one(_: int) -> torch.Tensor:
                    sample = sampler.sample(y, gen, estimate)
                    return model(sample.inputs, sample.conv_mask, guide)
                return average_passes(one, n)

            logs: dict[str, float] = {}
            step = 0
            for cycle in range(p["cycles"]):
                for _ in range(p["iterations"]):
                    sample = sampler.sample(y, gen, estimate)
                    out = model(sample.inputs, sample.conv_mask, guide)
                    if p["full_branch_grad"]:
                        full = model(y, ones, guide)
                    else:
                        with torch.no_grad():
                            full = model(y, ones, guide)
                    loss, logs = blind2grad_loss(out, full, y, sample.keep, p["omega"], p["gamma"])
                    opt.zero_grad(set_to_none=True)
                    loss.backward()
                    opt.step()
                    guide = out.detach().clamp(0.0, 1.0)
                    step += 1
                    recorder.maybe(step, lambda: tensor_to_image(predict(p["n_avg"])[..., :h, :w]))
                if cycle < p["cycles"] - 1:  # the estimate that drives the next cycle's dual mask
                    estimate = predict(p["n_avg_cycle"])
            train_seconds = time.perf_counter() - start - sum(s.predict_seconds for s in recorder.snapshots)
            t0 = time.perf_counter()
            result = predict(p["n_avg"])[..., :h, :w]
            infer_seconds = time.perf_counter() - t0
        detail = getattr(sampler, "last_detail_fraction", None)
        publish_run(self, context.extra, recorder, {
            "iterations": step, "cycles": p["cycles"], "n_avg": p["n_avg"], "train_seconds": round(train_seconds, 3),
            "infer_seconds": round(infer_seconds, 3), "final_loss": logs.get("loss"),
            "final_content": logs.get("content"), "final_gradient": logs.get("gradient"),
            "detail_fraction": detail, "detail_threshold": getattr(sampler, "last_threshold", None),
        })
        return tensor_to_image(result)

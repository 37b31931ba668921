"""Zero-Shot Noise2Noise (Mansour & Heckel, CVPR 2023): a two-hidden-layer CNN trained on one noisy image with
the pair-downsampler loss.

Network: conv3x3 C->48, LeakyReLU(0.2), conv3x3 48->48, LeakyReLU(0.2), conv1x1 48->C; it predicts the noise and
the estimate is ``y - net(y)`` (residual learning).
Pair downsampler: two stride-2 convolutions with the fixed 2x2 kernels [[0, .5], [.5, 0]] and [[.5, 0], [0, .5]]
per channel give two half-resolution images ``D1(y)``, ``D2(y)`` with (nearly) independent noise.
Loss: residual ``1/2 (||D1 y - f(D2 y)||^2 + ||D2 y - f(D1 y)||^2)`` plus consistency
``1/2 (||f(D1 y) - D1 f(y)||^2 + ||f(D2 y) - D2 f(y)||^2)`` with ``f(x) = x - net(x)`` (mean squared errors).
Schedule: Adam, lr 1e-3, ``iterations`` 2000, learning rate halved every 1000 iterations (StepLR).
Output: ``clip(y - net(y), 0, 1)``.
"""

from __future__ import annotations

import time
from typing import Any, ClassVar

import numpy as np

from denoisebench.errors import ConfigError
from denoisebench.methods._config import merged_config
from denoisebench.methods.base import METHODS, DenoiseContext, Method


def build_zsn2n_network(channels: int, width: int = 48, slope: float = 0.2) -> Any:
    """The ZS-N2N network (two 3x3 conv layers of ``width`` channels and a 1x1 output conv)."""
    from torch import nn

    return nn.Sequential(
        nn.Conv2d(channels, width, 3, padding=1), nn.LeakyReLU(slope),
        nn.Conv2d(width, width, 3, padding=1), nn.LeakyReLU(slope),
        nn.Conv2d(width, channels, 1),
    )


def pair_downsample(y: Any) -> tuple[Any, Any]:
    """The two half-resolution sub-images of ZS-N2N's pair downsampler (N, C, H//2, W//2)."""
    import torch
    import torch.nn.functional as F

    c = y.shape[1]
    k1 = torch.tensor([[0.0, 0.5], [0.5, 0.0]], dtype=y.dtype, device=y.device).expand(c, 1, 2, 2)
    k2 = torch.tensor([[0.5, 0.0], [0.0, 0.5]], dtype=y.dtype, device=y.device).expand(c, 1, 2, 2)
    return F.conv2d(y, k1, stride=2, groups=c), F.conv2d(y, k2, stride=2, groups=c)


def zsn2n_loss(net: Any, y: Any) -> Any:
    """Residual + consistency loss of ZS-N2N for the noisy batch ``y``."""
    import torch.nn.functional as F

    d1, d2 = pair_downsample(y)
    p1, p2 = d1 - net(d1), d2 - net(d2)
    residual = 0.5 * (F.mse_loss(d2, p1) + F.mse_loss(d1, p2))
    e1, e2 = pair_downsample(y - net(y))
    consistency = 0.5 * (F.mse_loss(p1, e1) + F.mse_loss(p2, e2))
    return residual + consistency


@METHODS.register("zsn2n")
class ZeroShotN2N(Method):
    """ZS-N2N. Config: iterations 2000, lr 1e-3, step_size 1000, step_gamma 0.5, width 48."""

    name = "zsn2n"
    paper = "baseline"
    kind = "zero-shot"
    needs_training = False
    DEFAULTS: ClassVar[dict[str, Any]] = {"iterations": 2000, "lr": 1e-3, "step_size": 1000, "step_gamma": 0.5, "width": 48}

    def __init__(self, config: dict[str, Any] | None = None) -> None:
        from denoisebench.papers.p003_blind2grad.common import check_positive_int

        super().__init__(config)
        self.params = merged_config(self.name, self.DEFAULTS, self.config)
        check_positive_int(self.name, self.params, "iterations", "step_size", "width")
        for key in ("lr", "step_gamma"):
            v = self.params[key]
            if isinstance(v, bool) or not isinstance(v, (int, float)) or v <= 0:
                raise ConfigError(f"zsn2n: {key}={v!r} must be a number > 0")
        self.last_info: dict[str, Any] = {}
        self.snapshots: list[Any] = []

    def parameter_count(self) -> int:
        from denoisebench.models import count_parameters

        return count_parameters(build_zsn2n_network(3, self.params["width"]))

    def denoise(self, noisy: np.ndarray, context: DenoiseContext) -> np.ndarray:
        import torch

        from denoisebench.papers.p003_blind2grad.common import prepare_input, publish_run, seeded, tensor_to_image

        prepared = prepare_input(self.name, noisy, context.device, context.extra)
        image, y, recorder = prepared.image, prepared.tensor, prepared.recorder
        if min(image.shape[:2]) < 2:
            raise ConfigError(f"zsn2n: the image ({image.shape[0]}x{image.shape[1]}) must be at least 2x2")
        p = self.params
        start = time.perf_counter()
        with seeded(context.seed):
            net = build_zsn2n_network(image.shape[2], p["width"]).to(y.device)
            opt = torch.optim.Adam(net.parameters(), lr=p["lr"])
            sched = torch.optim.lr_scheduler.StepLR(opt, step_size=p["step_size"], gamma=p["step_gamma"])

            def predict() -> torch.Tensor:
                with torch.no_grad():
                    return (y - net(y)).clamp(0.0, 1.0)

            loss = torch.zeros(())
            for step in range(1, p["iterations"] + 1):
                loss = zsn2n_loss(net, y)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                sched.step()
                recorder.maybe(step, lambda: tensor_to_image(predict()))
            out = predict()
        publish_run(self, context.extra, recorder, {"iterations": p["iterations"], "final_loss": float(loss.detach()),
                                                   "train_seconds": round(time.perf_counter() - start, 3)})
        return tensor_to_image(out)

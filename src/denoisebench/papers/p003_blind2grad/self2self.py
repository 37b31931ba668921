"""Self2Self with dropout (Quan, Chen, Pang & Ji, CVPR 2020): a partial-convolution U-Net trained on one noisy
image with Bernoulli-sampled inputs, dropout in the decoder, and the average of many stochastic predictions.

Network (the paper's P-U-Net): encoder of partial convolutions, 48 channels, LeakyReLU(0.1): two at H, then
[max-pool, partial conv] down to H/32 (the validity mask is max-pooled alongside); decoder: nearest upsample x2,
concatenate the encoder features, dropout + conv 96, dropout + conv 96 at H/16..H/2; at H: concatenate the input,
dropout + conv 64, dropout + conv 32, dropout + conv C, sigmoid.
Training: each step samples a Bernoulli mask keeping each element with probability ``1 - mask_rate`` (0.7),
randomly flips the image pair (left-right, up-down; the official code's augmentation), and minimises the squared
error on the dropped elements normalised by their count. Adam, lr 1e-4, 150,000 iterations (method-specs 8).
Inference: the mean of ``n_predictions`` (100) passes with fresh masks and dropout.
"""

from __future__ import annotations

import time
from typing import Any, ClassVar

import numpy as np

from denoisebench.errors import ConfigError
from denoisebench.methods._config import merged_config
from denoisebench.methods.base import METHODS, DenoiseContext, Method


def build_punet(channels: int, width: int = 48, dec_width: int = 96, dropout: float = 0.3, levels: int = 5) -> Any:
    """Self2Self's partial-convolution U-Net."""
    import torch
    import torch.nn.functional as F
    from torch import nn

    from denoisebench.papers.p003_blind2grad.common import PartialConv2d

    class PUNet(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.levels = levels
            self.enc = nn.ModuleList([PartialConv2d(channels, width, 3, padding=1),
                                      *[PartialConv2d(width, width, 3, padding=1) for _ in range(levels + 1)]])
            dec: list[nn.Module] = []
            in_ch = width
            for _ in range(levels - 1):
                dec.append(nn.ModuleList([nn.Conv2d(in_ch + width, dec_width, 3, padding=1),
                                          nn.Conv2d(dec_width, dec_width, 3, padding=1)]))
                in_ch = dec_width
            dec.append(nn.ModuleList([nn.Conv2d(in_ch + channels, 64, 3, padding=1), nn.Conv2d(64, 32, 3, padding=1),
                                      nn.Conv2d(32, channels, 3, padding=1)]))
            self.dec = nn.ModuleList(dec)
            self.drop = nn.Dropout(dropout)

        def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
            mask = mask.expand_as(x) if mask.shape[1] == 1 else mask
            h, m = self.enc[0](x, mask)
            h = F.leaky_relu(h, 0.1)
            h, m = self.enc[1](h, m)
            h = F.leaky_relu(h, 0.1)
            skips = [x]
            for i in range(self.levels):
                h, m = F.max_pool2d(h, 2), F.max_pool2d(m, 2)
                h, m = self.enc[i + 2](h, m)
                h = F.leaky_relu(h, 0.1)
                if i < self.levels - 1:
                    skips.append(h)
            for stage, skip in zip(self.dec, reversed(skips)):
                h = torch.cat([F.interpolate(h, size=skip.shape[-2:], mode="nearest"), skip], dim=1)
                for j, conv in enumerate(stage):
                    h = conv(self.drop(h))
                    if j < len(stage) - 1 or stage is not self.dec[-1]:
                        h = F.leaky_relu(h, 0.1)
            return torch.sigmoid(h)

    return PUNet()


@METHODS.register("self2self")
class Self2Self(Method):
    """Self2Self. Config: iterations 150000, lr 1e-4, mask_rate 0.3, dropout 0.3, n_predictions 100, flips true."""

    name = "self2self"
    paper = "baseline"
    kind = "zero-shot"
    needs_training = False
    DEFAULTS: ClassVar[dict[str, Any]] = {"iterations": 150000, "lr": 1e-4, "mask_rate": 0.3, "dropout": 0.3,
                                "n_predictions": 100, "flips": True, "width": 48}

    def __init__(self, config: dict[str, Any] | None = None) -> None:
        from denoisebench.papers.p003_blind2grad.common import check_fraction, check_positive_int

        super().__init__(config)
        self.params = merged_config(self.name, self.DEFAULTS, self.config)
        check_positive_int(self.name, self.params, "iterations", "n_predictions", "width")
        check_fraction(self.name, self.params, "mask_rate")
        check_fraction(self.name, self.params, "dropout", closed=True)
        lr = self.params["lr"]
        if isinstance(lr, bool) or not isinstance(lr, (int, float)) or lr <= 0:
            raise ConfigError(f"self2self: lr={lr!r} must be a number > 0")
        if not isinstance(self.params["flips"], bool):
            raise ConfigError(f"self2self: flips={self.params['flips']!r} must be true or false")
        self.last_info: dict[str, Any] = {}
        self.snapshots: list[Any] = []

    def parameter_count(self) -> int:
        from denoisebench.models import count_parameters

        return count_parameters(build_punet(3, self.params["width"]))

    def denoise(self, noisy: np.ndarray, context: DenoiseContext) -> np.ndarray:
        import torch

        from denoisebench.papers.p003_blind2grad.averaging import average_passes
        from denoisebench.papers.p003_blind2grad.common import prepare_input, publish_run, seeded, tensor_to_image
        from denoisebench.papers.p003_blind2grad.losses import masked_mse
        from denoisebench.papers.p003_blind2grad.masks import BernoulliMask

        p = self.params
        prepared = prepare_input(self.name, noisy, context.device, context.extra, multiple=32)
        y, (h, w), recorder = prepared.tensor, prepared.size, prepared.recorder
        sampler = BernoulliMask(p["mask_rate"], granularity="element")
        start = time.perf_counter()
        with seeded(context.seed) as gen:
            net = build_punet(prepared.image.shape[2], p["width"], dropout=p["dropout"]).to(y.device).train()
            opt = torch.optim.Adam(net.parameters(), lr=p["lr"])

            def predict() -> torch.Tensor:
                def one(_: int) -> torch.Tensor:
                    s = sampler.sample(y, gen)
                    return net(s.inputs, s.conv_mask)
                return average_passes(one, p["n_predictions"])[..., :h, :w]

            loss = torch.zeros(())
            for step in range(1, p["iterations"] + 1):
                target = y
                if p["flips"]:
                    flip = torch.rand(2, generator=gen)
                    dims = [d for d, f in zip((3, 2), flip) if f < 0.5]
                    target = torch.flip(y, dims) if dims else y
                s = sampler.sample(target, gen)
                loss = masked_mse(net(s.inputs, s.conv_mask), target, s.keep)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                recorder.maybe(step, lambda: tensor_to_image(predict()))
            out = predict()
        publish_run(self, context.extra, recorder, {
            "iterations": p["iterations"], "n_predictions": p["n_predictions"], "final_loss": float(loss.detach()),
            "train_seconds": round(time.perf_counter() - start, 3)})
        return tensor_to_image(out)

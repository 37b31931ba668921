"""Paper 002's network: the TV+GAP attention, the improved SE-ResNet module, DuRB-M, the shared encoder, the task
decoders and task layouts as data (method-specs 5(a)).

Block internals follow the paper's Figs. 4-7 and Sec. 4, settled where the text is silent by the public DuRN code
(liu-vis/DualResidualNetworks) and the follow-up 6272code/6272-code (whose DuRB-M has the paper's 13 weight layers):
reflection-padded convolutions with bias, zero-padded bias-free ResNet-module convolutions, no normalisation.

Layouts (Fig. 8 / Table 2): groups of task letters separated by ``>``. The first group's decoders read the shared
encoder's output; each ``>`` adds one DuRB-M on top of the previous group's features. ``R>B>H`` is the paper's best
3-task design, ``R>B>J>H`` its 4-task one, ``RBH`` the plain shared encoder with three heads.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from denoisebench.errors import ConfigError
from denoisebench.models import MODELS

#: Task letter -> task name (the names used by the training cycle, params and the degradation models).
TASKS: dict[str, str] = {"B": "blur", "H": "haze", "R": "rain", "J": "jpeg", "N": "denoise"}
#: (k1, k2, dilation) of the encoder's five DuRB-Ms (6272code/6272-code; method-specs 5(a) [choice]).
ENCODER_BLOCKS: tuple[tuple[int, int, int], ...] = ((3, 3, 2), (5, 3, 1), (3, 5, 2), (5, 5, 1), (7, 5, 1))
#: (k1, k2, dilation) of the extra DuRB-Ms of a layout, in order (the same code's blocks 6-8; the last repeats).
EXTRA_BLOCKS: tuple[tuple[int, int, int], ...] = ((7, 5, 2), (11, 5, 1), (11, 5, 1))
CHANNELS, RES_CHANNELS = 96, 64
ATTENTION_HIDDEN, SE_HIDDEN = 64, 96  # TV-SE: FC 2C -> 64 -> C; down-path SE: FC 64 -> 96 -> 64
_LAYOUT = re.compile(r"^[A-Z]+(>[A-Z]+)*$")


@dataclass(frozen=True)
class Layout:
    """A parsed layout: the task groups, in order (group ``i`` sits after ``i`` extra DuRB-Ms)."""

    text: str
    groups: tuple[tuple[str, ...], ...]

    @property
    def tasks(self) -> tuple[str, ...]:
        """Task names in layout order."""
        return tuple(t for group in self.groups for t in group)

    @property
    def extra_blocks(self) -> int:
        return len(self.groups) - 1

    def depth(self, task: str) -> int:
        """How many extra DuRB-Ms lie on ``task``'s path."""
        for i, group in enumerate(self.groups):
            if task in group:
                return i
        raise ConfigError(f"layout {self.text!r} has no task {task!r}; its tasks: {', '.join(self.tasks)}")


def parse_layout(text: str) -> Layout:
    """``"R>B>H"`` -> groups (("rain",), ("blur",), ("haze",)); each task letter once (B, H, R, J, N)."""
    compact = str(text).replace(" ", "").replace("→", ">").upper()
    valid = ", ".join(f"{k}={v}" for k, v in TASKS.items())
    if not _LAYOUT.match(compact):
        raise ConfigError(f"layout {text!r} is invalid: use task letters separated by '>' (e.g. 'R>B>H'); "
                          f"letters: {valid}")
    letters = compact.replace(">", "")
    unknown = sorted(set(letters) - set(TASKS))
    if unknown:
        raise ConfigError(f"layout {text!r}: unknown task letter(s) {unknown}; valid letters: {valid}")
    if len(set(letters)) != len(letters):
        raise ConfigError(f"layout {text!r}: each task letter may appear once")
    groups = tuple(tuple(TASKS[c] for c in group) for group in compact.split(">"))
    return Layout(compact, groups)


#: The thirteen 3-task designs of Table 2 (paper notation, "→" written ">").
TABLE2_LAYOUTS: tuple[str, ...] = ("B>H>R", "B>R>H", "H>B>R", "H>R>B", "R>B>H", "R>H>B",
                                   "BH>R", "B>HR", "HR>B", "H>RB", "RB>H", "R>BH", "RBH")


class Conv(nn.Sequential):
    """Reflection-padded convolution with bias (DuRN's ``ConvLayer``); 'same' size at stride 1."""

    def __init__(self, cin: int, cout: int, k: int, stride: int = 1, dilation: int = 1) -> None:
        pad = dilation * (k - 1) // 2
        super().__init__(nn.ReflectionPad2d(pad), nn.Conv2d(cin, cout, k, stride, dilation=dilation))


def channel_tv(x: torch.Tensor, beta: float = 3.0) -> torch.Tensor:
    """Eq. 6: per channel, mean |vertical difference|^beta + mean |horizontal difference|^beta -> (N, C)."""
    dv = (x[:, :, 1:, :] - x[:, :, :-1, :]).abs().pow(beta).mean(dim=(2, 3))
    dh = (x[:, :, :, 1:] - x[:, :, :, :-1]).abs().pow(beta).mean(dim=(2, 3))
    return dv + dh


class Attention(nn.Module):
    """Channel attention from GAP and/or channel TV (Fig. 4): FC (k*C -> hidden) -> ReLU -> FC -> sigmoid, scale.

    ``tv`` and ``gap`` are the Table 3 ablation switches; with both off the module is the identity (no weights).
    """

    def __init__(self, channels: int, hidden: int, tv: bool = True, gap: bool = True, beta: float = 3.0) -> None:
        super().__init__()
        self.tv, self.gap, self.beta = tv, gap, beta
        stats = int(tv) + int(gap)
        self.fc = nn.Sequential(nn.Linear(stats * channels, hidden), nn.ReLU(inplace=True),
                                nn.Linear(hidden, channels), nn.Sigmoid()) if stats else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.fc is None:
            return x
        stats = ([x.mean(dim=(2, 3))] if self.gap else []) + ([channel_tv(x, self.beta)] if self.tv else [])
        weights = self.fc(torch.cat(stats, dim=1))
        return x * weights[:, :, None, None]


class SEResNet(nn.Module):
    """conv3x3 -> ReLU -> conv3x3 -> attention -> + input -> ReLU (Fig. 5; zero padding, no bias)."""

    def __init__(self, channels: int, attention: Attention) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.attention = attention

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv2(F.relu(self.conv1(x)))
        return F.relu(self.attention(out) + x)


class DuRBM(nn.Module):
    """DuRB-M (Fig. 6): improved SE-ResNet, up-convolution T1 into ``res``, two fused stride-2 down paths T2.

    ``fusion=False`` (Table 3 ablation) keeps only the plain stride-2 convolution of T2 (DuRB-U's second
    operation), without the SE path and the 3x3 merge convolution.
    """

    def __init__(self, k1: int = 3, k2: int = 3, dilation: int = 1, *, tv: bool = True, gap: bool = True,
                 fusion: bool = True, channels: int = CHANNELS, res_channels: int = RES_CHANNELS) -> None:
        super().__init__()
        c, cr = channels, res_channels
        self.base = SEResNet(c, Attention(c, ATTENTION_HIDDEN, tv=tv, gap=gap))
        self.up = nn.Sequential(Conv(c, 4 * c, 1), nn.PixelShuffle(2))  # up-convolution: 1x1 conv + PixelShuffle
        self.up_conv = Conv(c, cr, k1, dilation=dilation)
        self.down_conv = Conv(cr, c, 3, stride=2)
        self.fusion = fusion
        if fusion:
            self.down_se = SEResNet(cr, Attention(cr, SE_HIDDEN, tv=False, gap=True))
            self.down_se_conv = Conv(cr, c, k2, stride=2)
            self.merge = Conv(2 * c, c, 3)

    def forward(self, x: torch.Tensor, res: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        skip = x
        x = self.up_conv(self.up(self.base(x)))
        res = F.relu(x + res)
        down = F.relu(self.down_conv(res))
        if self.fusion:
            down = self.merge(torch.cat([down, F.relu(self.down_se_conv(self.down_se(res)))], dim=1))
        return F.relu(down + skip), res


class Encoder(nn.Module):
    """Shared encoder f: conv 3->32, conv s2 32->64 (the skip ``res``), conv s2 64->96, each + ReLU; 5 DuRB-Ms."""

    def __init__(self, in_channels: int = 3, **block: bool) -> None:
        super().__init__()
        self.conv1 = Conv(in_channels, 32, 3)
        self.conv2 = Conv(32, RES_CHANNELS, 3, stride=2)
        self.conv3 = Conv(RES_CHANNELS, CHANNELS, 3, stride=2)
        self.blocks = nn.ModuleList(DuRBM(k1, k2, d, **block) for k1, k2, d in ENCODER_BLOCKS)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        res = F.relu(self.conv2(F.relu(self.conv1(x))))
        x = F.relu(self.conv3(res))
        for block in self.blocks:
            x, res = block(x, res)
        return x, res


class Decoder(nn.Module):
    """Task decoder g (Fig. 7, 5 weight layers): [up (1x1 conv + PixelShuffle) -> conv3x3 -> ReLU] x 2 with 96 then
    48 output channels, conv3x3 -> tanh; the output is added to the input image (eq. 5)."""

    def __init__(self, out_channels: int = 3) -> None:
        super().__init__()
        c = CHANNELS
        self.body = nn.Sequential(
            Conv(c, 4 * c, 1), nn.PixelShuffle(2), Conv(c, c, 3), nn.ReLU(inplace=True),
            Conv(c, 4 * c, 1), nn.PixelShuffle(2), Conv(c, c // 2, 3), nn.ReLU(inplace=True),
            Conv(c // 2, out_channels, 3), nn.Tanh())

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.body(features)


@MODELS.register("durn_mtl")
class DuRNMultiTask(nn.Module):
    """Encoder + extra DuRB-Ms + one decoder per task, placed by ``layout``; ``forward(x, task)`` restores ``x``.

    Args:
        layout: layout string (see module doc), e.g. ``"R>B>H"``.
        channels: image channels (3).
        tv, gap, fusion: ablation switches of every DuRB-M (Table 3).
    """

    def __init__(self, layout: str = "R>B>H", channels: int = 3, tv: bool = True, gap: bool = True,
                 fusion: bool = True) -> None:
        super().__init__()
        self.layout = parse_layout(layout)
        block = {"tv": tv, "gap": gap, "fusion": fusion}
        self.encoder = Encoder(channels, **block)
        specs = [EXTRA_BLOCKS[min(i, len(EXTRA_BLOCKS) - 1)] for i in range(self.layout.extra_blocks)]
        self.extra = nn.ModuleList(DuRBM(k1, k2, d, **block) for k1, k2, d in specs)
        self.decoders = nn.ModuleDict({task: Decoder(channels) for task in self.layout.tasks})
        n_params = len(list(self.parameters()))
        #: DDP must look for parameters without a gradient when a step's task path leaves some out (the other
        #: decoders, the extra blocks above its decoder): every multi-task layout.
        self.ddp_find_unused_parameters = any(len(self.task_parameters(t)) < n_params for t in self.tasks)

    @property
    def tasks(self) -> tuple[str, ...]:
        return self.layout.tasks

    def task_parameters(self, task: str) -> list[nn.Parameter]:
        """Parameters on ``task``'s path: the encoder, the extra blocks below its decoder and the decoder."""
        depth = self.layout.depth(task)
        modules = [self.encoder, *self.extra[:depth], self.decoders[task]]
        return [p for m in modules for p in m.parameters()]

    def forward(self, x: torch.Tensor, task: str | None = None) -> torch.Tensor:
        if task is None:
            if len(self.tasks) != 1:
                raise ValueError(f"DuRNMultiTask({self.layout.text}): name the task, one of {', '.join(self.tasks)}")
            task = self.tasks[0]
        depth = self.layout.depth(task)
        h, w = x.shape[-2:]
        ph, pw = (-h) % 4, (-w) % 4  # two stride-2 stages: pad to a multiple of 4, crop back
        xp = F.pad(x, (0, pw, 0, ph), mode="reflect") if ph or pw else x
        feats, res = self.encoder(xp)
        for block in self.extra[:depth]:
            feats, res = block(feats, res)
        out = self.decoders[task](feats) + xp
        return out[..., :h, :w]


def weight_layers(module: nn.Module) -> int:
    """Number of convolution and fully connected layers (the paper's "weight layers")."""
    return sum(isinstance(m, (nn.Conv2d, nn.Linear)) for m in module.modules())

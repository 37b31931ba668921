"""Paper 002: block layer counts, parameter counts per layout, layouts as data, ablation switches, task paths."""

from __future__ import annotations

import pytest
import torch

from denoisebench.errors import ConfigError
from denoisebench.models import MODELS, count_parameters
from denoisebench.papers.p002_durn_mtl.network import (
    TABLE2_LAYOUTS,
    Attention,
    Decoder,
    DuRBM,
    DuRNMultiTask,
    Encoder,
    channel_tv,
    parse_layout,
    weight_layers,
)

torch.set_num_threads(1)


def test_block_weight_layers_match_the_paper() -> None:
    """Fig. 7: each DuRB-M has 13 weight layers, the encoder 68, a decoder 5."""
    assert weight_layers(DuRBM()) == 13
    assert weight_layers(Encoder()) == 68
    assert weight_layers(Decoder()) == 5
    # fusion off drops the SE path (2 convs + 2 FCs), its stride-2 conv and the merge conv
    assert weight_layers(DuRBM(fusion=False)) == 13 - 6


def test_parameter_counts_per_layout() -> None:
    """method-specs 5(a) [derived]: 640,032 per 3x3 DuRB-M, 4,012,224 encoder, 200,355 decoder."""
    assert count_parameters(DuRBM(3, 3, 1)) == 640_032
    assert count_parameters(Encoder()) == 4_012_224
    assert count_parameters(Decoder()) == 200_355
    counts = {layout: count_parameters(DuRNMultiTask(layout)) for layout in TABLE2_LAYOUTS + ("R>B>J>H",)}
    assert counts["R>B>H"] == 7_023_849 and counts["B>H>R"] == counts["R>B>H"]
    assert counts["RB>H"] == 5_597_385 and counts["RBH"] == 4_613_289
    assert counts["R>B>J>H"] == 8_650_668


def test_layouts_are_data() -> None:
    layout = parse_layout("R>B>H")
    assert layout.groups == (("rain",), ("blur",), ("haze",)) and layout.extra_blocks == 2
    assert parse_layout("rb → h").groups == (("rain", "blur"), ("haze",))
    assert len(set(TABLE2_LAYOUTS)) == 13
    for bad in ("R>>B", "R>B>R", "R>X", ""):
        with pytest.raises(ConfigError):
            parse_layout(bad)
    assert isinstance(MODELS.get("durn_mtl")(layout="RBH"), DuRNMultiTask)


def test_task_paths_touch_only_their_blocks() -> None:
    """A haze loss in R>B>H reaches the encoder, both extra blocks and g_H; a rain loss no extra block."""
    torch.manual_seed(0)
    net = DuRNMultiTask("R>B>H")
    x = torch.rand(1, 3, 16, 20)
    net(x, "rain").mean().backward()
    assert all(p.grad is None for p in net.extra.parameters())
    assert all(p.grad is None for name in ("blur", "haze") for p in net.decoders[name].parameters())
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in net.encoder.parameters())
    net.zero_grad(set_to_none=True)
    net(x, "haze").mean().backward()
    assert all(p.grad is not None for p in net.extra.parameters())
    assert {id(p) for p in net.task_parameters("blur")} < {id(p) for p in net.parameters()}
    assert net(torch.rand(1, 3, 13, 18), "blur").shape == (1, 3, 13, 18)  # padded to x4 and cropped back


def test_tv_attention_and_ablation_switches() -> None:
    x = torch.zeros(1, 2, 4, 4)
    x[0, 1, :, 2:] = 1.0  # one vertical edge in channel 1: |dh|^3 = 1 on 4 of 12 positions
    tv = channel_tv(x, beta=3.0)
    assert tv[0, 0] == 0 and tv[0, 1] == pytest.approx(4 / 12)
    full, no_tv, no_gap, none = (Attention(8, 64, tv=t, gap=g) for t, g in ((1, 1), (0, 1), (1, 0), (0, 0)))
    assert full.fc[0].in_features == 16 and no_tv.fc[0].in_features == 8 and no_gap.fc[0].in_features == 8
    assert none.fc is None and torch.equal(none(torch.ones(1, 8, 3, 3)), torch.ones(1, 8, 3, 3))
    plain = DuRNMultiTask("RBH", tv=False, gap=False, fusion=False)
    assert count_parameters(plain) < count_parameters(DuRNMultiTask("RBH"))
    assert plain(torch.rand(1, 3, 8, 8), "rain").shape == (1, 3, 8, 8)

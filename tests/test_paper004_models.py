"""Paper 004: the multi-scale denoiser (geometry, parameter counts, Table I variants) and FFDNet."""

from __future__ import annotations

import pytest
import torch

from denoisebench.models import MODELS, count_parameters
from denoisebench.models.ffdnet import FFDNet
from denoisebench.papers.p004_semantic_denoise.multiscale import TABLE_I, MultiScaleDenoiser, paper_style_count

torch.set_num_threads(1)


def test_registered() -> None:
    assert MODELS.get("multiscale") is MultiScaleDenoiser
    assert MODELS.get("ffdnet") is FFDNet


def test_valid_geometry_crops_three_pixels() -> None:
    net = MultiScaleDenoiser().eval()
    with torch.no_grad():
        assert net(torch.rand(2, 3, 48, 48)).shape == (2, 3, 42, 42)
        assert net(torch.rand(1, 3, 40, 44)).shape == (1, 3, 34, 38)
    with pytest.raises(ValueError, match="divisible by 4"):
        net(torch.rand(1, 3, 46, 48))


@pytest.mark.parametrize("size", [(37, 53), (30, 31), (48, 48)])
def test_forward_full_and_same_keep_size(size: tuple[int, int]) -> None:
    x = torch.rand(1, 3, *size)
    with torch.no_grad():
        assert MultiScaleDenoiser().eval().forward_full(x).shape == x.shape
        assert MultiScaleDenoiser(padding="same").eval()(x).shape == x.shape


def test_valid_output_aligns_with_input_centre() -> None:
    """A zero network (only the global skip) returns the input cropped by 3 px, and forward_full the input."""
    net = MultiScaleDenoiser().eval()
    for p in net.parameters():
        torch.nn.init.zeros_(p)
    x = torch.rand(1, 3, 40, 40)
    with torch.no_grad():
        assert torch.allclose(net(x), x[:, :, 3:-3, 3:-3], atol=1e-5)
        assert torch.allclose(net.forward_full(x[:, :, :37, :35]), x[:, :, :37, :35], atol=1e-5)


def test_parameter_count_pinned() -> None:
    net = MultiScaleDenoiser()
    assert count_parameters(net) == 1_033_443
    # Table I's "1,026k": conv/deconv weights + biases without the 5x5 first conv (and without BN affine).
    assert paper_style_count(net) == 1_026_019
    assert count_parameters(MultiScaleDenoiser(padding="same")) == 1_033_443


def test_table_one_variants_build_and_run() -> None:
    counts = {}
    for scales, skip, enc, dec, paper_k, _ in TABLE_I:
        net = MultiScaleDenoiser(scales=scales, encoding=enc, decoding=dec, global_skip=skip).eval()
        side = 4 + 2 ** (scales - 1) * 3
        with torch.no_grad():
            assert net(torch.rand(1, 3, side, side)).shape == (1, 3, side - 6, side - 6)
        counts[(scales, enc, dec)] = paper_style_count(net)
    # the other 3-scale row matches Table I exactly too (592k)
    assert counts[(3, (128, 32, 32, 128), (128, 32, 32, 128))] == 591_843
    assert counts[(2, (128, 32, 32, 128), (128, 32, 32, 128))] < counts[(3, (128, 32, 32, 128), (128, 32, 32, 128))]
    with pytest.raises(ValueError, match="four positive widths"):
        MultiScaleDenoiser(encoding=(128, 32, 64, 128))


def test_no_global_skip_changes_output_not_count() -> None:
    a, b = MultiScaleDenoiser(global_skip=True), MultiScaleDenoiser(global_skip=False)
    b.load_state_dict(a.state_dict())
    x = torch.rand(1, 3, 48, 48)
    with torch.no_grad():
        diff = a.eval()(x) - b.eval()(x)
    assert count_parameters(a) == count_parameters(b)
    assert torch.allclose(diff, x[:, :, 3:-3, 3:-3] - torch.tensor([123.0, 117.0, 104.0]).view(1, 3, 1, 1) / 255,
                          atol=1e-5)


def test_ffdnet_shapes_and_count() -> None:
    net = FFDNet().eval()
    assert count_parameters(net) == 853_056
    x = torch.rand(2, 3, 17, 22)
    with torch.no_grad():
        out = net(x, torch.tensor([0.1, 0.2]))
        assert out.shape == x.shape
        # the noise-level map as an extra input channel gives the same result
        level = torch.tensor([0.1, 0.2]).view(2, 1, 1, 1).expand(2, 1, 17, 22)
        assert torch.allclose(net(torch.cat([x, level], 1)), out, rtol=1e-5, atol=0)
        # the map matters (relative comparison: the authors' small init makes the untrained output tiny)
        assert not torch.allclose(net(x, 0.5), out[:1].expand(2, -1, -1, -1), rtol=1e-3, atol=0)
    with pytest.raises(ValueError, match="noise-level map"):
        net(x)

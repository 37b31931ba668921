"""Paper 004 cascade: EfficientNet-Lite0 with the packaged ImageNet weights, VGG-16 state-dict layout, agreement."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from denoisebench.papers.p004_semantic_denoise.highlevel.agreement import agreement, agreement_table, identity_denoiser, nearest_sigma
from denoisebench.papers.p004_semantic_denoise.highlevel.vgg16 import VGG16, load_vgg16

torch.set_num_threads(1)

CATS = {281, 282, 283, 284, 285}  # tabby, tiger cat, Persian, Siamese, Egyptian cat
COFFEE = {967, 968, 504}  # espresso, cup, coffee mug


@pytest.fixture(scope="module")
def effnet():
    from denoisebench.papers.p004_semantic_denoise.highlevel.efficientnet_lite import load_efficientnet_lite0

    return load_efficientnet_lite0()


def _photo(name: str) -> np.ndarray:
    from skimage import data

    return getattr(data, name)().astype(np.float32) / 255.0


def test_efficientnet_lite0_classifies_known_photos(effnet) -> None:
    from denoisebench.papers.p004_semantic_denoise.highlevel.agreement import top5_classes
    from denoisebench.models import count_parameters

    assert count_parameters(effnet) == 4_652_008
    top = top5_classes(effnet, [_photo("chelsea"), _photo("coffee")])
    assert top[0, 0] in CATS
    assert top[1, 0] in COFFEE
    feats = effnet.forward_with_features(torch.rand(1, 3, 64, 64))[1]
    assert feats.shape == (1, 24, 16, 16)  # perceptual features at 1/4 resolution


def test_vgg16_loads_torchvision_layout() -> None:
    # torchvision's VGG-16 state-dict keys and shapes, written out independently of our module
    convs = [(3, 64), (64, 64), (64, 128), (128, 128), (128, 256), (256, 256), (256, 256), (256, 512), (512, 512),
             (512, 512), (512, 512), (512, 512), (512, 512)]
    idx = [0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28]
    expected = {}
    for i, (cin, cout) in zip(idx, convs):
        expected[f"features.{i}.weight"], expected[f"features.{i}.bias"] = (cout, cin, 3, 3), (cout,)
    for i, (cin, cout) in zip((0, 3, 6), ((25088, 4096), (4096, 4096), (4096, 1000))):
        expected[f"classifier.{i}.weight"], expected[f"classifier.{i}.bias"] = (cout, cin), (cout,)
    with torch.device("meta"):
        shapes = {k: tuple(v.shape) for k, v in VGG16().state_dict().items()}
    assert shapes == expected
    gen = torch.Generator().manual_seed(0)
    # random weights (the two big fully connected matrices constant, to keep the test fast)
    state = {"module." + k: (torch.full(s, 1e-3) if s[-1] >= 4096 and len(s) == 2 else
                             torch.randn(s, generator=gen) * 0.01) for k, s in expected.items()}
    net = load_vgg16({"state_dict": state})
    assert torch.equal(net.features[28].bias, state["module.features.28.bias"])
    with torch.no_grad():
        logits, feats = net.forward_with_features(torch.rand(1, 3, 32, 32))
    assert logits.shape == (1, 1000) and feats.shape == (1, 256, 8, 8)  # relu3_3 at 1/4
    del state["module.classifier.6.bias"]
    with pytest.raises(ValueError, match="not a torchvision VGG-16"):
        load_vgg16(state)
    with pytest.raises(FileNotFoundError, match="none are bundled"):
        load_vgg16(None)


def test_agreement_toy_case() -> None:
    ref = np.array([1, 2, 3, 4])
    top5 = np.array([[1, 0, 0, 0, 0], [0, 2, 9, 9, 9], [7, 7, 7, 7, 7], [4, 1, 1, 1, 1]])
    assert agreement(ref, top5) == (50.0, 75.0)


def test_agreement_table_shapes_and_identity_on_clean(effnet) -> None:
    img = _photo("chelsea")[::2, ::2]
    table = agreement_table([img], {"noisy": identity_denoiser, "oracle": lambda x, s: img},
                            {"effnet": effnet}, sigmas=(60,))
    assert list(table.columns) == ["classifier", "denoiser", "sigma", "n_images", "top1", "top5", "reference"]
    assert table.set_index("denoiser").loc["oracle", "top1"] == 100.0
    pick = nearest_sigma({25.0: lambda x, s: x * 0 + 25, 50.0: lambda x, s: x * 0 + 50})
    assert pick(np.zeros(1), 30)[0] == 25 and pick(np.zeros(1), 45)[0] == 50

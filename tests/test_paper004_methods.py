"""Paper 004: liu_separate / ffdnet / liu_joint methods: training reduces the loss, checkpoints, inference size."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from denoisebench.errors import ConfigError
from denoisebench.methods.base import METHODS, DenoiseContext, build_method
from denoisebench.methods.ffdnet import NoiseLevelMapNoise
from denoisebench.papers.p004_semantic_denoise.separate import cropped_loss_fn
from denoisebench.papers.p004_semantic_denoise.joint import joint_loss
from denoisebench.noise import build_noise

torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def _no_tracking(monkeypatch: pytest.MonkeyPatch) -> None:
    """Training in these tests is not tracked (scoped to this module, unlike a global os.environ change)."""
    monkeypatch.setenv("DENOISEBENCH_TRACKING", "0")

SMALL = {"scales": 3, "encoding": [16, 4, 4, 16], "decoding": [32, 8, 8, 32], "stem": 8}


def _images() -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    base = np.linspace(0, 1, 64, dtype=np.float32)
    img = np.stack([np.add.outer(base, base) / 2, np.outer(base, base), 1 - np.add.outer(base, base) / 2], 2)
    return [img.astype(np.float32), np.clip(img + 0.1 * rng.random(img.shape), 0, 1).astype(np.float32)]


def _loss_curve(method, tmp_path: Path, **cfg) -> list[float]:
    losses: list[float] = []
    method.train(_images(), tmp_path, train_config={"progress": False, "log_every": 5, **cfg},
                 callbacks=[lambda step, logs: logs and losses.append(logs["loss"])])
    return losses


def test_registered_with_paper_keys() -> None:
    assert METHODS.get("liu_separate").paper == "semantic_denoise"
    assert METHODS.get("liu_joint").paper == "semantic_denoise"
    assert METHODS.get("liu_separate").kind == "supervised" and METHODS.get("ffdnet").paper == "baseline"
    assert build_method("liu_separate").parameter_count() == 1_033_443
    with pytest.raises(ConfigError, match="invalid architecture"):
        build_method("liu_separate", {"scales": 1})


def test_euclidean255_loss_is_caffe_scale() -> None:
    fn = cropped_loss_fn("euclidean255")
    net = nn.Identity()
    clean = torch.zeros(2, 3, 4, 4)
    loss, _ = fn(net, clean + 1 / 255, clean, 0)  # every pixel off by 1 grey level: sum 96 / (2*2)
    assert loss.item() == pytest.approx(24.0)


def test_separate_training_reduces_loss_and_denoises_full_size(tmp_path: Path) -> None:
    method = build_method("liu_separate", {**SMALL, "train_noise": {"name": "awgn", "sigma": 25}})
    losses = _loss_curve(method, tmp_path, iterations=30, batch_size=8, patch_size=24, optimizer="adam",
                         lr=1e-3, loss="mse", milestones=[], grad_clip=None)
    assert losses[-1] < losses[0]
    restored = build_method("liu_separate")
    restored.load(tmp_path / "model.pt")
    assert restored.params["encoding"] == [16, 4, 4, 16]
    noisy = _images()[0][:37, :41]
    assert restored.denoise(noisy, DenoiseContext(sigma=25)).shape == noisy.shape


def test_valid_patch_size_checked(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="divisible"):
        build_method("liu_separate", SMALL).train(_images(), tmp_path, train_config={"patch_size": 46})


def test_ffdnet_trains_with_per_sample_sigma_map(tmp_path: Path) -> None:
    noise = NoiseLevelMapNoise(build_noise({"name": "awgn", "sigma_range": [0, 75]}))
    gen = torch.Generator().manual_seed(3)
    batch = noise.apply_torch(torch.full((4, 3, 6, 6), 0.5), gen)
    sig = batch[:, 3, 0, 0]
    assert batch.shape == (4, 4, 6, 6) and len(set(sig.tolist())) == 4
    # the map equals the std of the added noise
    resid = (batch[:, :3] - 0.5).flatten(1).std(1)
    assert torch.allclose(resid, sig, rtol=0.35)
    method = build_method("ffdnet", {"depth": 4, "features": 16})
    losses = _loss_curve(method, tmp_path, iterations=30, batch_size=8, patch_size=20, lr=1e-3)
    assert losses[-1] < losses[0]
    out = method.denoise(_images()[0][:21, :19], DenoiseContext(sigma=30))
    assert out.shape == (21, 19, 3)


class _TinyClassifier(nn.Module):
    """A stand-in frozen classifier with the forward_with_features API."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.fc = nn.Linear(4, 5)

    def forward_with_features(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        feats = torch.relu(self.conv(x))
        return self.fc(feats.mean((2, 3))), feats


def test_joint_loss_updates_only_the_denoiser() -> None:
    from denoisebench.papers.p004_semantic_denoise.multiscale import MultiScaleDenoiser

    torch.manual_seed(0)
    den = MultiScaleDenoiser(encoding=(16, 4, 4, 16), decoding=(32, 8, 8, 32), stem=8)
    cls = _TinyClassifier().eval()
    for p in cls.parameters():
        p.requires_grad_(False)
    clean = torch.rand(2, 3, 24, 24)
    loss, logs = joint_loss(den, cls, clean + 0.1 * torch.randn_like(clean), clean)
    loss.backward()
    assert all(p.grad is None for p in cls.parameters())
    assert all(p.grad is not None for p in den.parameters())
    assert set(logs) >= {"l_d", "l_p", "l_h", "loss"}
    expected = logs["l_d"] + 0.5 * logs["l_p"] + 0.25 * logs["l_h"]
    assert logs["loss"].item() == pytest.approx(expected.item(), rel=1e-5)
    # with labels, L_H uses them
    _, with_labels = joint_loss(den, cls, clean, clean, labels=torch.tensor([0, 1]))
    assert torch.isfinite(with_labels["l_h"])


def test_joint_method_fine_tunes_from_separate(tmp_path: Path) -> None:
    sep = build_method("liu_separate", {**SMALL, "train_noise": {"name": "awgn", "sigma": 30}})
    sep.train(_images(), tmp_path / "sep", train_config={"iterations": 2, "batch_size": 4, "patch_size": 24,
                                                         "progress": False})
    cls = _TinyClassifier()
    before = {k: v.clone() for k, v in cls.state_dict().items()}
    joint = build_method("liu_joint", {**SMALL, "init_checkpoint": str(tmp_path / "sep" / "model.pt")})
    path = joint.train(_images(), tmp_path / "joint", highlevel=cls,
                       train_config={"iterations": 3, "batch_size": 4, "patch_size": 24, "lr": 1e-3,
                                     "progress": False, "log_every": 1})
    assert all(torch.equal(before[k], v) for k, v in cls.state_dict().items())
    reloaded = build_method("liu_joint")
    reloaded.load(path)
    assert reloaded.params["init_checkpoint"].endswith("model.pt")
    with pytest.raises(ConfigError, match="architecture"):
        build_method("liu_joint", {"init_checkpoint": str(tmp_path / "sep" / "model.pt")}).train(
            _images(), tmp_path / "bad", highlevel=cls, train_config={"patch_size": 24})
    with pytest.raises(ConfigError, match="init_checkpoint"):
        build_method("liu_joint", SMALL).train(_images(), tmp_path / "none", highlevel=cls,
                                               train_config={"patch_size": 24})

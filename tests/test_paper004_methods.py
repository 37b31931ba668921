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
from denoisebench.papers.p004_semantic_denoise.joint import (calibrate_lambda_p, gradient_norms, joint_loss,
                                                             perceptual_loss, reconstruction_loss)
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


def _tiny_cascade() -> tuple[nn.Module, nn.Module, torch.Tensor]:
    """A small multi-scale denoiser, a frozen tiny classifier and a clean batch (seeded)."""
    from denoisebench.papers.p004_semantic_denoise.multiscale import MultiScaleDenoiser

    torch.manual_seed(0)
    den = MultiScaleDenoiser(encoding=(16, 4, 4, 16), decoding=(32, 8, 8, 32), stem=8)
    cls = _TinyClassifier().eval()
    for p in cls.parameters():
        p.requires_grad_(False)
    return den, cls, torch.rand(2, 3, 24, 24)


def test_joint_loss_updates_only_the_denoiser() -> None:
    den, cls, clean = _tiny_cascade()
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


def test_reconstruction_loss_is_eq1_per_pixel_in_255_units() -> None:
    # one pixel of four off by the colour vector (3, 4, 0) grey levels: squared norm 25, mean over 4 pixels
    clean = torch.full((1, 3, 2, 2), 0.5)
    out = clean.clone()
    out[0, :, 1, 0] += torch.tensor([3.0, 4.0, 0.0]) / 255
    assert reconstruction_loss(out, clean).item() == pytest.approx(25 / 4, rel=1e-4)
    # the batch is averaged, not summed; channels are summed, not averaged
    both = torch.cat([out, clean])
    assert reconstruction_loss(both, torch.cat([clean, clean])).item() == pytest.approx(25 / 8, rel=1e-4)
    # through joint_loss with the classifier terms off, L is exactly L_D
    loss, logs = joint_loss(nn.Identity(), None, out, clean, lambda_p=0.0, lambda_h=0.0)
    assert loss.item() == pytest.approx(25 / 4, rel=1e-4) and set(logs) == {"l_d", "loss"}
    # AWGN sigma 25 left in the output: L_D ~ 3 * 25**2 (not 3 * (25/255)**2)
    gen = torch.Generator().manual_seed(0)
    clean = torch.rand(2, 3, 64, 64, generator=gen)
    noisy = clean + 25 / 255 * torch.randn(clean.shape, generator=gen)
    assert reconstruction_loss(noisy, clean).item() == pytest.approx(3 * 625, rel=0.03)


def test_perceptual_loss_sums_feature_channels() -> None:
    f = torch.zeros(1, 4, 2, 2)
    g = f.clone()
    g[0, :, 0, 0] = 1.0  # one position off by 1 in 4 channels: squared norm 4, mean over 4 positions
    assert perceptual_loss(f, g).item() == pytest.approx(1.0)


def _paper_lambdas(repo_root: Path) -> dict[str, float]:
    import yaml

    params = yaml.safe_load((repo_root / "params.yaml").read_text(encoding="utf-8"))
    entry = params["methods"]["cascade"]["liu_joint_s25"]
    return {k: float(entry.get(k, default)) for k, default in (("lambda_d", 1.0), ("lambda_p", 0.5), ("lambda_h", 0.25))}


def test_configured_joint_terms_are_balanced_at_a_denoised_image(repo_root: Path) -> None:
    """The units bug: with L_D as a [0, 1] mean, 0.5 L_P pulled ~10^4 times harder than L_D. With the configured
    lambdas (params.yaml) and the real classifier, no weighted term may dominate L_D's gradient by 20x or be 20x
    weaker, on a photo with the residual error of a sigma-25 denoiser (about 8 grey levels)."""
    from skimage import data

    from denoisebench.papers.p004_semantic_denoise.highlevel.efficientnet_lite import load_efficientnet_lite0

    lam = _paper_lambdas(repo_root)
    cls = load_efficientnet_lite0()
    clean = torch.from_numpy(data.chelsea()[:224, 100:324].astype(np.float32).transpose(2, 0, 1)[None] / 255)
    gen = torch.Generator().manual_seed(0)
    out = (clean + 8 / 255 * torch.randn(clean.shape, generator=gen)).requires_grad_(True)
    grads = {}
    for key, (ld, lp, lh) in {"l_d": (1, 0, 0), "l_p": (0, 1, 0), "l_h": (0, 0, 1)}.items():
        loss, _ = joint_loss(nn.Identity(), cls, out, clean, lambda_d=ld, lambda_p=lp, lambda_h=lh)
        grads[key] = float(torch.autograd.grad(loss, out)[0].norm())
    weighted = {"l_d": lam["lambda_d"] * grads["l_d"], "l_p": lam["lambda_p"] * grads["l_p"],
                "l_h": lam["lambda_h"] * grads["l_h"]}
    assert 1 / 20 < weighted["l_p"] / weighted["l_d"] < 20, (grads, lam)
    assert weighted["l_h"] / weighted["l_d"] < 20, (grads, lam)
    # the pre-fix units ([0, 1] element means) fail the same check by orders of magnitude
    old_d = grads["l_d"] / (3 * 255 ** 2)
    old_p = grads["l_p"] / 24  # EfficientNet block-2 features have 24 channels
    assert 0.5 * old_p / old_d > 20 * 20


def test_gradient_norms_and_lambda_p_calibration() -> None:
    den, cls, clean = _tiny_cascade()
    batch = [(clean + 0.1 * torch.randn_like(clean), clean)]
    norms = gradient_norms(den, cls, batch)
    assert set(norms) == {"g_d", "g_p", "g_h", "l_d", "l_p", "l_h"}
    assert all(v > 0 for v in norms.values())
    # g_d is the norm of d L_D / d theta, checked by hand
    loss = reconstruction_loss(den(batch[0][0]), clean[:, :, 3:-3, 3:-3])
    hand = torch.sqrt(sum((g ** 2).sum() for g in torch.autograd.grad(loss, list(den.parameters()))))
    assert norms["g_d"] == pytest.approx(float(hand), rel=1e-4)
    lam = calibrate_lambda_p(norms, 0.5)
    assert lam * norms["g_p"] == pytest.approx(0.5 * norms["g_d"])
    with pytest.raises(ValueError, match="g_p"):
        calibrate_lambda_p({**norms, "g_p": 0.0})


def test_lambda_p_defaults_to_the_classifiers_calibrated_value(repo_root: Path) -> None:
    from denoisebench.papers.p004_semantic_denoise.joint import CALIBRATED_LAMBDA_P

    assert build_method("liu_joint").params["lambda_p"] == CALIBRATED_LAMBDA_P["efficientnet_lite0"] == 0.2
    assert build_method("liu_joint", {"lambda_p": 0.5}).params["lambda_p"] == 0.5
    with pytest.raises(ConfigError, match="no calibrated lambda_p for classifier 'vgg16'"):
        build_method("liu_joint", {"classifier": "vgg16"})
    # the pipeline's joint entries use the calibrated weight; the official code's variant is CE only
    assert _paper_lambdas(repo_root) == {"lambda_d": 1.0, "lambda_p": 0.2, "lambda_h": 0.25}
    import yaml

    cascade = yaml.safe_load((repo_root / "params.yaml").read_text(encoding="utf-8"))["methods"]["cascade"]
    for sigma in (25, 35, 50):
        ce = cascade[f"liu_joint_ce_s{sigma}"]
        assert (ce["lambda_d"], ce["lambda_p"], ce["lambda_h"]) == (0.0, 0.0, 1.0)
        assert ce["init_checkpoint"] == f"models/liu_separate_s{sigma}/model.pt"
        assert ce["train_noise"] == {"name": "awgn", "sigma": sigma}


def test_measure_lambda_p_at_a_separate_checkpoint(tmp_path: Path) -> None:
    from denoisebench.papers.p004_semantic_denoise.joint import measure_lambda_p

    sep = build_method("liu_separate", {**SMALL, "train_noise": {"name": "awgn", "sigma": 25}})
    sep.train(_images(), tmp_path, train_config={"iterations": 2, "batch_size": 4, "patch_size": 24,
                                                 "progress": False})
    res = measure_lambda_p(tmp_path / "model.pt", _images(), n_batches=2, batch_size=2, patch_size=40)
    assert res["lambda_p"] == pytest.approx(0.5 * res["g_d"] / res["g_p"])
    # L_D in eq. 1 units: a barely trained denoiser leaves at least the AWGN's 3 * 25**2 per pixel order
    assert res["l_d"] > 100

"""The generic supervised trainer: config validation, patch sampling, exact resume, noise paths, throughput."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
import torch

from denoisebench.errors import ConfigError
from denoisebench.models import build_model
from denoisebench.training import STATE_FILE, PatchSampler, TrainConfig, dihedral, train_model
from denoisebench.training.trainer import default_store_root, resume_store

torch.set_num_threads(1)


class LocalAWGN:
    """A minimal noise model with both paths (what the trainer needs from denoisebench.noise)."""

    params = {"name": "awgn", "sigma": 25}

    def apply(self, img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        return img + np.float32(25 / 255) * rng.standard_normal(img.shape, dtype=np.float32)

    def apply_torch(self, batch: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        noise = torch.randn(batch.shape, generator=generator, dtype=batch.dtype, device=batch.device)
        return batch + 25 / 255 * noise


class NumpyOnlyAWGN(LocalAWGN):
    """No torch path: the trainer must fall back to per-patch numpy noise."""

    def apply_torch(self, batch: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        raise NotImplementedError


def images(n: int = 4, size: int = 24, channels: int = 3, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.uniform(0, 1, (size + i, size + 2 * i, channels)).astype(np.float32) for i in range(n)]


def tiny_model(channels: int = 3) -> torch.nn.Module:
    torch.manual_seed(0)
    return build_model("dncnn", channels=channels, depth=3, features=8)


def cfg(**overrides) -> TrainConfig:
    base = {"iterations": 6, "batch_size": 4, "patch_size": 16, "lr": 1e-3, "checkpoint_every": 3, "log_every": 2,
            "progress": False, "seed": 7}
    return TrainConfig.from_dict({**base, **overrides})


def weights(path: Path) -> dict[str, torch.Tensor]:
    return torch.load(path, map_location="cpu", weights_only=True)["model"]


def assert_same_weights(a: Path, b: Path) -> None:
    wa, wb = weights(a), weights(b)
    assert wa.keys() == wb.keys()
    for key in wa:
        assert torch.equal(wa[key], wb[key]), key


# ------------------------------------------------------------------------------------------------------- config
@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"iterationz": 5}, "unknown keys ['iterationz']"),
        ({"optimizer": "rmsprop"}, "optimizer='rmsprop' is not one of adam, adamw, sgd"),
        ({"loss": "huber"}, "loss='huber'"),
        ({"lr": -1.0}, "lr > 0"),
        ({"batch_size": 0}, "batch_size=0"),
        ({"batch_size": 2.5}, "batch_size=2.5"),
        ({"milestones": [30, 10]}, "strictly increasing"),
        ({"grad_clip": 0}, "grad_clip=0"),
        ({"amp": "yes"}, "amp='yes'"),
        ({"device": "tpu"}, "device='tpu'"),
        ({"betas": [0.9]}, "betas"),
    ],
)
def test_config_errors(values: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        TrainConfig.from_dict(values)


def test_config_round_trip() -> None:
    c = TrainConfig.from_dict({"optimizer": "sgd", "milestones": [10, 20], "grad_clip": 0.4, "betas": [0.5, 0.9]})
    assert c.milestones == (10, 20) and c.betas == (0.5, 0.9)
    assert TrainConfig.from_dict(c.to_dict()) == c
    assert TrainConfig.from_dict({"milestones": None}).milestones == ()
    assert TrainConfig().resolved_device().type in ("cpu", "cuda")


# ------------------------------------------------------------------------------------------------------ patches
def test_patches_shape_determinism_and_crops() -> None:
    imgs = images(3, size=10)
    sampler = PatchSampler(imgs, patch_size=4, augment=False)
    batch = sampler.sample(32, np.random.default_rng(1))
    assert batch.shape == (32, 3, 4, 4) and batch.dtype == np.float32
    np.testing.assert_array_equal(batch, sampler.sample(32, np.random.default_rng(1)))
    for patch in batch.transpose(0, 2, 3, 1):  # every patch is a window of one of the images
        assert any(
            np.array_equal(patch, img[r : r + 4, c : c + 4])
            for img in imgs
            for r in range(img.shape[0] - 3)
            for c in range(img.shape[1] - 3)
        )


def test_patches_dihedral_augmentation() -> None:
    img = np.arange(5 * 5 * 2, dtype=np.float32).reshape(5, 5, 2)
    modes = [dihedral(img, m) for m in range(8)]
    assert len({m.tobytes() for m in modes}) == 8  # the 8 transforms are distinct
    batch = PatchSampler([img], patch_size=5).sample(64, np.random.default_rng(0)).transpose(0, 2, 3, 1)
    seen = {next(i for i, m in enumerate(modes) if np.array_equal(p, m)) for p in batch}
    assert seen == set(range(8))


def test_patches_errors() -> None:
    with pytest.raises(ConfigError, match=r"training image 1 is 8x30, smaller than patch_size=16"):
        PatchSampler([np.zeros((20, 20, 3), np.float32), np.zeros((8, 30, 3), np.float32)], 16)
    with pytest.raises(ConfigError, match="mix channel counts"):
        PatchSampler([np.zeros((20, 20, 3), np.float32), np.zeros((20, 20, 1), np.float32)], 16)
    with pytest.raises(ConfigError, match="empty"):
        PatchSampler([], 16)


# ------------------------------------------------------------------------------------------------------- resume
@pytest.mark.parametrize("noise_cls", [LocalAWGN, NumpyOnlyAWGN])
def test_kill_and_rerun_gives_identical_weights(tmp_path: Path, noise_cls: type) -> None:
    data, noise = images(), noise_cls()
    full = train_model(tiny_model(), data, noise, cfg(), tmp_path / "full")
    assert full.steps == 6 and full.resumed_from is None and full.patches_per_second > 0

    def kill_at_4(step: int, logs: dict) -> None:
        if step == 4:
            raise KeyboardInterrupt("simulated kill")

    with pytest.raises(KeyboardInterrupt):
        train_model(tiny_model(), data, noise, cfg(), tmp_path / "killed", callbacks=[kill_at_4])
    state = torch.load(tmp_path / "killed" / STATE_FILE, weights_only=True)
    assert state["step"] == 3 and not (tmp_path / "killed" / "model.pt").exists()
    resumed = train_model(tiny_model(), data, noise, cfg(), tmp_path / "killed")
    assert resumed.resumed_from == 3
    assert_same_weights(full.model_path, resumed.model_path)

    # Extending a finished run (iterations 3 -> 6) is a resume too; prefetching threads change nothing.
    short = train_model(tiny_model(), data, noise, cfg(iterations=3), tmp_path / "extended")
    assert short.steps == 3
    extended = train_model(tiny_model(), data, noise, cfg(num_workers=2), tmp_path / "extended")
    assert extended.resumed_from == 3
    assert_same_weights(full.model_path, extended.model_path)


def test_changed_config_starts_fresh(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    data, noise = images(), LocalAWGN()
    train_model(tiny_model(), data, noise, cfg(iterations=3), tmp_path)
    with caplog.at_level(logging.WARNING, logger="denoisebench.training.trainer"):
        result = train_model(tiny_model(), data, noise, cfg(iterations=3, lr=5e-4), tmp_path)
    assert result.resumed_from is None
    assert "written for another config" in caplog.text and "starting fresh" in caplog.text
    model = torch.load(result.model_path, weights_only=True)
    assert model["train_config"]["lr"] == 5e-4 and model["summary"]["steps"] == 3


class Recorder:
    """A stateful callback: which steps it saw (its state must survive a resume)."""

    def __init__(self) -> None:
        self.steps: list[int] = []

    def __call__(self, step: int, logs: dict) -> None:
        self.steps.append(step)

    def state_dict(self) -> dict:
        return {"steps": list(self.steps)}

    def load_state_dict(self, state: dict) -> None:
        self.steps = list(state["steps"])


def test_resume_store_survives_a_restored_out_dir(tmp_path: Path) -> None:
    """Inside resume_store, intermediate states live outside out_dir; replacing out_dir's state.pt by an older one
    (what `dvc exp run` does from dvc.lock) still resumes from the newest; another config never resumes it."""
    data, noise, out, store = images(), LocalAWGN(), tmp_path / "models" / "tiny", tmp_path / "store"
    full = train_model(tiny_model(), data, noise, cfg(iterations=8, checkpoint_every=2), tmp_path / "full")
    with resume_store(store):
        train_model(tiny_model(), data, noise, cfg(iterations=2), out)  # finished: out/state.pt at step 2
        old_state = (out / STATE_FILE).read_bytes()
        recorder = Recorder()

        def kill_at_7(step: int, logs: dict) -> None:
            if step == 7:
                raise KeyboardInterrupt("simulated kill")

        with pytest.raises(KeyboardInterrupt):
            train_model(tiny_model(), data, noise, cfg(iterations=8, checkpoint_every=2), out,
                        callbacks=[recorder, kill_at_7], stateful=[recorder])
        assert (out / STATE_FILE).read_bytes() == old_state  # intermediate states never touch out_dir
        (stored,) = store.glob("tiny/*/state.pt")
        assert torch.load(stored, weights_only=True)["step"] == 6
        other = train_model(tiny_model(), data, noise, cfg(iterations=8, lr=5e-4), tmp_path / "models" / "tiny2")
        assert other.resumed_from is None  # same store, another config hash
        recorder = Recorder()
        resumed = train_model(tiny_model(), data, noise, cfg(iterations=8, checkpoint_every=2), out,
                              callbacks=[recorder], stateful=[recorder])
    assert resumed.resumed_from == 6 and recorder.steps == [3, 4, 5, 6, 7, 8]  # 1, 2: the finished run's
    assert_same_weights(full.model_path, resumed.model_path)
    assert torch.load(out / STATE_FILE, weights_only=True)["step"] == 8 and not stored.parent.parent.exists()


def test_default_store_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("DENOISEBENCH_CHECKPOINTS", "DENOISEBENCH_ROOT", "DVC_ROOT"):
        monkeypatch.delenv(name, raising=False)
    (tmp_path / "repo" / "sub").mkdir(parents=True)
    (tmp_path / "repo" / "dvc.yaml").write_text("stages: {}\n")
    monkeypatch.chdir(tmp_path / "repo" / "sub")
    assert default_store_root() == (tmp_path / "repo").resolve() / ".denoisebench" / "checkpoints"
    monkeypatch.setenv("DVC_ROOT", str(tmp_path / "origin"))  # a queued experiment's original repository
    assert default_store_root() == tmp_path / "origin" / ".denoisebench" / "checkpoints"
    monkeypatch.setenv("DENOISEBENCH_CHECKPOINTS", str(tmp_path / "elsewhere"))
    assert default_store_root() == tmp_path / "elsewhere"


def test_model_checkpoint_contents_and_meta(tmp_path: Path) -> None:
    meta = {"method": "dncnn", "method_config": {"depth": 3}}
    result = train_model(tiny_model(), images(), LocalAWGN(), cfg(optimizer="sgd", grad_clip=0.5, milestones=[2],
                                                                   loss="sse_half"), tmp_path, meta=meta)
    ckpt = torch.load(result.model_path, weights_only=True)
    assert ckpt["method"] == "dncnn" and ckpt["method_config"] == {"depth": 3}
    assert ckpt["format"] == "denoisebench-model/1"
    assert ckpt["summary"]["patches_per_second"] > 0 and np.isfinite(ckpt["summary"]["final_loss"])
    state = torch.load(tmp_path / STATE_FILE, weights_only=True)
    assert state["scheduler"]["last_epoch"] == 6 and state["config_hash"] == result.config_hash
    assert state["optimizer"]["param_groups"][0]["lr"] == pytest.approx(1e-4)  # x0.1 at milestone 2
    assert not list(tmp_path.glob(".*tmp*"))  # atomic writes leave no temporaries


def test_training_reduces_loss_and_custom_loss_hook(tmp_path: Path) -> None:
    seen: list[float] = []
    calls: list[int] = []

    def loss_fn(model, noisy, clean, step):
        calls.append(step)
        loss = torch.nn.functional.mse_loss(model(noisy), clean)
        return loss, {"loss": loss.detach(), "aux": torch.tensor(1.0)}

    result = train_model(
        tiny_model(), images(2, size=32), LocalAWGN(), cfg(iterations=40, lr=1e-2, log_every=10), tmp_path,
        loss_fn=loss_fn, callbacks=[lambda step, logs: seen.append(logs["loss"]) if logs else None],
        validate=lambda model, step: {"val_dummy": float(step)},
    )
    assert calls == list(range(1, 41)) and len(seen) == 4
    # the authors' initialisation starts at the identity (loss = the noise's variance), so the loss falls from
    # there rather than from a random output: a clear decrease, not a halving
    assert seen[-1] < 0.9 * seen[0]
    assert result.final_loss == seen[-1]
    summary = torch.load(result.model_path, weights_only=True)["summary"]
    assert summary["val_dummy"] == 40.0

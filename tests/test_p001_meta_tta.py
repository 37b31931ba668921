"""Paper 001 (meta-transfer test-time adaptation): networks, losses and the three stages on tiny tensors."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from denoisebench.models import MODELS, count_parameters
from denoisebench.papers.p001_meta_tta import losses
from denoisebench.papers.p001_meta_tta.meta import (
    _heads_forward,
    head_parameter_count,
    inner_adapt,
    lookahead_mask_loss,
    meta_test,
    mtl_outer_loss,
    net_params,
)
from denoisebench.papers.p001_meta_tta.network import MetaTTANet


@pytest.fixture(scope="module")
def model64() -> MetaTTANet:
    torch.manual_seed(0)
    return MetaTTANet().double()


def _pair(seed: int = 1, size: int = 8, n: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    clean = torch.rand(n, 3, size, size, generator=g, dtype=torch.float64)
    return (clean + 0.1 * torch.randn(n, 3, size, size, generator=g, dtype=torch.float64)), clean


def test_parameter_counts_match_the_paper() -> None:
    model = MetaTTANet()
    assert count_parameters(model.net) == 603_360
    assert count_parameters(model.mask) == 56_449
    assert count_parameters(model) == 659_809  # paper: 0.66 M
    assert len(model.head_names()) == 9
    heads = head_parameter_count(model, "paper")
    assert heads == 58_752
    assert round((heads + count_parameters(model.mask)) / 1e6, 2) == 0.12  # the paper's "0.12 M"
    assert head_parameter_count(model, "code") == 49_536
    assert count_parameters(MODELS.get("ttaid_restoration")()) == 603_360
    assert count_parameters(MODELS.get("ttaid_mask")()) == 56_449
    # Table 1's Chi et al. row as the authors ran it (TTAID RestorationNetV0): auxiliary path 38,592 (was 610,848)
    assert count_parameters(MODELS.get("ttaid_chi")()) == 620_928


def test_plain_stage1_makes_one_theta1_update_per_step_maxl_two_passes() -> None:
    from denoisebench.papers.p001_meta_tta.schedule import MetaSchedule

    schedule = MetaSchedule(s1_epochs=3, s1_steps=4)
    assert (schedule.stage1_steps_of("maxl"), schedule.stage1_steps_of("plain"), schedule.stage1_steps_of("none")) \
        == (24, 12, 0)


def test_ttaid_scores_before_unclamped_and_after_clamped() -> None:
    import numpy as np

    from denoisebench.metrics import PROTOCOLS, evaluate_pair

    clean = np.full((8, 8, 3), 0.9)
    out = clean.copy()
    out[0, 0] = 1.3  # out of range: the clamp to 1.0 cuts its error to 0.1
    raw, clamped = evaluate_pair(clean, out, PROTOCOLS["ttaid_before"]), evaluate_pair(clean, out, PROTOCOLS["ttaid"])
    mse = 0.4 ** 2 * 3 / (8 * 8 * 3)
    assert raw["psnr"] == pytest.approx(10 * np.log10(1 / mse))
    assert clamped["psnr"] == pytest.approx(10 * np.log10(1 / (mse / 16)))


@pytest.mark.parametrize("architecture", ["sequential", "chi"])
def test_heads_on_precomputed_features_equal_the_full_forward(architecture: str) -> None:
    torch.manual_seed(0)
    model = MetaTTANet(architecture).double()
    noisy, _ = _pair(size=12)
    clean_pred, noisy_pred = model.net(noisy)
    heads = {n: p for n, p in net_params(model, "heads").items()}
    c2, n2 = _heads_forward(model.net, heads, model.net.body(noisy), noisy)
    torch.testing.assert_close(c2, clean_pred)
    torch.testing.assert_close(n2, noisy_pred)


def test_losses_on_hand_computed_values() -> None:
    noisy = torch.zeros(1, 3, 2, 2)
    pred = torch.ones(1, 3, 2, 2)
    mask = torch.tensor([[[[0.2, 0.6], [0.0, 1.0]]]])
    # mean over ALL 12 elements of |pred - noisy| * mask: 3 * (0.2 + 0.6 + 0 + 1) / 12
    assert float(losses.masked_reconstruction(pred, noisy, mask)) == pytest.approx(3 * 1.8 / 12)
    assert float(losses.masked_reconstruction(pred, noisy, mask, binarize=True)) == pytest.approx(3 * 2 / 12)
    assert float(losses.reconstruction(pred, noisy)) == pytest.approx(1.0)
    assert float(losses.auxiliary_loss("rl", pred, noisy, mask)) == pytest.approx(1.0)
    assert float(losses.primary_loss(pred, noisy)) == pytest.approx(1.0)
    # L_G: |d_x M| = [0.4; 1.0], |d_y M| = [0.2, 0.4]; the image is flat: L1 means 0.7 + 0.3
    assert float(losses.gradient_loss(mask, noisy)) == pytest.approx(0.7 + 0.3)
    image = torch.tensor([[[[0.0, 0.5], [0.0, 0.5]]]]).expand(1, 3, 2, 2)
    edge_mask = torch.tensor([[[[0.0, 0.5], [0.0, 0.5]]]])
    assert float(losses.gradient_loss(edge_mask, image)) == pytest.approx(0.0)
    with pytest.raises(ValueError, match="must be"):
        losses.masked_reconstruction(pred, noisy, mask.expand(1, 3, 2, 2))


def _directional_fd(fn, params: list[torch.Tensor], direction: list[torch.Tensor], eps: float = 1e-6) -> float:
    def shift(scale: float) -> None:
        with torch.no_grad():
            for p, d in zip(params, direction):
                p.add_(scale * eps * d)

    shift(1.0)
    plus = float(fn().detach())
    shift(-2.0)
    minus = float(fn().detach())
    shift(1.0)
    return (plus - minus) / (2 * eps)


def test_maxl_lookahead_mask_gradient_is_second_order_and_matches_finite_differences(model64: MetaTTANet) -> None:
    noisy, clean = _pair()
    mask_params = list(model64.mask.parameters())
    loss = lookahead_mask_loss(model64, noisy, clean, alpha=0.5)
    grads = torch.autograd.grad(loss, mask_params)
    g = torch.Generator().manual_seed(3)
    direction = [torch.randn(p.shape, generator=g, dtype=p.dtype) for p in mask_params]
    analytic = sum(float((gr * d).sum()) for gr, d in zip(grads, direction))
    numeric = _directional_fd(lambda: lookahead_mask_loss(model64, noisy, clean, alpha=0.5), mask_params, direction)
    assert analytic == pytest.approx(numeric, rel=1e-6, abs=1e-9)
    # Without the look-ahead only lambda_G L_G reaches the mask: the second-order part is really there.
    first_order = torch.autograd.grad(losses.LAMBDA_G * losses.gradient_loss(model64.mask(noisy), noisy), mask_params)
    assert not all(torch.allclose(a, b) for a, b in zip(grads, first_order))


def test_inner_loop_changes_only_head_tensors_and_chains_k_steps(model64: MetaTTANet) -> None:
    noisy, _ = _pair()
    before = {n: p.detach().clone() for n, p in model64.named_parameters()}
    adapted = inner_adapt(model64, noisy, steps=2, alpha=0.1, weight=10.0)
    assert set(adapted) == set(net_params(model64, "heads")) and len(adapted) == 9
    assert all(not torch.equal(adapted[n], p) for n, p in net_params(model64, "heads").items())
    assert all(torch.equal(before[n], p) for n, p in model64.named_parameters())  # nothing updated in place
    one = inner_adapt(model64, noisy, steps=1, alpha=0.1, weight=10.0)
    # a second step taken from the once-adapted tensors (true K-step MAML, not K copies of one step)
    from torch.func import functional_call

    mask = model64.mask(noisy)
    _, pred = functional_call(model64.net, one, (noisy,))
    loss = 10.0 * losses.masked_reconstruction(pred, noisy, mask)
    grads = torch.autograd.grad(loss, list(one.values()))
    manual = {n: t - 0.1 * gr for (n, t), gr in zip(one.items(), grads)}
    for name in adapted:
        torch.testing.assert_close(adapted[name], manual[name])
    everything = inner_adapt(model64, noisy, steps=1, alpha=0.1, weight=10.0, scope="all")
    assert len(everything) == len(list(model64.net.parameters()))


def test_meta_transfer_outer_gradient_reaches_body_and_mask_and_matches_finite_differences(
        model64: MetaTTANet) -> None:
    noisy, clean = _pair(n=2)
    loss = mtl_outer_loss(model64, noisy, clean, steps=2, alpha=0.05)
    body = model64.net.body.shallow.weight
    mask_params = list(model64.mask.parameters())
    grads = torch.autograd.grad(loss, [body, *mask_params])
    assert float(grads[0].abs().sum()) > 0  # the body is in the outer update
    assert float(sum(gr.abs().sum() for gr in grads[1:])) > 0  # the mask learns through the inner loss
    g = torch.Generator().manual_seed(5)
    direction = [torch.randn(p.shape, generator=g, dtype=p.dtype) for p in mask_params]
    analytic = sum(float((gr * d).sum()) for gr, d in zip(grads[1:], direction))
    numeric = _directional_fd(lambda: mtl_outer_loss(model64, noisy, clean, steps=2, alpha=0.05), mask_params,
                              direction)
    assert analytic == pytest.approx(numeric, rel=1e-6, abs=1e-9)


@pytest.mark.parametrize("variant,updates", [("code", 4), ("paper", 5)])
def test_meta_test_adapts_a_copy_of_the_heads_only(model64: MetaTTANet, variant: str, updates: int) -> None:
    noisy, _ = _pair(size=16)
    state = {k: v.clone() for k, v in model64.state_dict().items()}
    result = meta_test(model64, noisy, variant=variant, steps=5, lr=1e-2)
    assert result.updates == updates
    assert all(torch.equal(state[k], v) for k, v in model64.state_dict().items())  # body, heads, mask untouched
    assert not torch.equal(result.before, result.after)
    assert float(result.after.min()) >= 0 and float(result.after.max()) <= 1
    torch.testing.assert_close(result.before, model64.net(noisy)[0])  # unclamped, as the official validate keeps it
    assert result.mask.shape == (1, 1, 16, 16)
    assert len(result.aux_losses) == 5
    with pytest.raises(ValueError, match="variant"):
        meta_test(model64, noisy, variant="bogus")


def test_archived_layout_lists_div2k_splits_and_sidd_small_pairs(tmp_path) -> None:
    import numpy as np

    from denoisebench.datasets import list_samples
    from denoisebench.errors import DatasetError
    from denoisebench.imageio import write_image

    for name, part in (("0001", "DIV2K_train_HR"), ("0801", "DIV2K_valid_HR")):
        path = tmp_path / "DIV2K" / part / part / f"{name}.png"
        path.parent.mkdir(parents=True)
        write_image(path, np.zeros((8, 8, 3), np.float32))
    assert [s.id for s in list_samples("div2k", tmp_path, split="train")] == ["0001"]
    assert [s.id for s in list_samples("div2k", tmp_path, split="valid")] == ["0801"]
    scene = tmp_path / "SIDD_Small" / "SIDD_Small_sRGB_Only" / "Data" / "0001_001_S6"
    scene.mkdir(parents=True)
    write_image(scene / "GT_SRGB_010.PNG", np.zeros((8, 8, 3), np.float32))
    with pytest.raises(DatasetError, match="no noisy image"):
        list_samples("sidd_small", tmp_path)
    write_image(scene / "NOISY_SRGB_010.PNG", np.ones((8, 8, 3), np.float32))
    (sample,) = list_samples("sidd_small", tmp_path)
    assert sample.id == "0001_001_S6" and float(sample.noisy().mean()) == 1.0 and float(sample.clean().mean()) == 0.0


def test_validation_crop_zero_pads_like_torchvision_and_gain_summary() -> None:
    import numpy as np

    from denoisebench.papers.p001_meta_tta.metatest import center_crop_padded, summarise

    image = np.ones((4, 6, 3), np.float32)
    crop = center_crop_padded(image, 8)
    assert crop.shape == (8, 8, 3) and crop.sum() == image.sum()  # all of the image, zeros around it
    assert crop[:2].sum() == 0 and crop[2:6, 1:7].min() == 1
    assert center_crop_padded(np.arange(100.0).reshape(10, 10, 1), 4)[0, 0, 0] == 33.0  # plain centre crop
    rows = [{"entry": "e", "testset": "t", "protocol": "default", "image": str(i), "psnr_before": 30.0,
             "psnr_after": 30.0 + g, "gain_db": g, "ssim_before": 0.9, "ssim_after": 0.9, "adapt_seconds": "1.0"}
            for i, g in enumerate((0.1, -0.02, 0.03))]
    (s,) = summarise(rows)
    assert s["n"] == 3 and s["improved"] == 2 and s["past_threshold"] == 1
    assert s["gain_mean"] == pytest.approx(0.11 / 3) and s["gain_min"] == pytest.approx(-0.02)


def test_training_resumes_after_an_interruption_to_the_same_weights(tmp_path, monkeypatch) -> None:
    import numpy as np

    from denoisebench.methods import build_method

    monkeypatch.setenv("DENOISEBENCH_TRACKING", "0")
    rng = np.random.default_rng(0)
    images = [rng.random((24, 24, 3), dtype=np.float32) for _ in range(2)]
    schedule = {"s1_epochs": 1, "s1_steps": 1, "s1_batch": 1, "s1_patch": 16, "s2_iterations": 2, "s2_batch": 2, "s2_patch": 16,
                    "pool": "synthetic", "seed": 1, "checkpoint_every": 1, "log_every": 1}
    config = {"inner_steps": 1}
    whole = build_method("meta_tta", config)
    whole.train(images, tmp_path / "whole", train_config=schedule)

    class Stop(Exception):
        pass

    def stop_at_3(step: int, logs: dict) -> None:
        if step == 3:
            raise Stop

    interrupted = build_method("meta_tta", config)
    with pytest.raises(Stop):
        interrupted.train(images, tmp_path / "cut", train_config=schedule, callbacks=[stop_at_3])
    resumed = build_method("meta_tta", config)
    resumed.train(images, tmp_path / "cut", train_config=schedule)
    assert resumed.last_result.resumed_from == 2 and resumed.last_result.steps == 4
    a = torch.load(tmp_path / "whole" / "model.pt", weights_only=True)["model"]
    b = torch.load(tmp_path / "cut" / "model.pt", weights_only=True)["model"]
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_official_checkpoint_selection_keeps_the_best_validated_weights_and_resumes(tmp_path, monkeypatch) -> None:
    import numpy as np

    from denoisebench.methods import build_method

    monkeypatch.setenv("DENOISEBENCH_TRACKING", "0")
    rng = np.random.default_rng(0)
    images = [rng.random((24, 24, 3), dtype=np.float32) for _ in range(2)]
    schedule = {"s1_epochs": 1, "s1_steps": 1, "s1_batch": 1, "s1_patch": 16, "s2_iterations": 3, "s2_batch": 2,
                "s2_patch": 16, "s2_lr": 0.001, "pool": "synthetic", "seed": 1, "checkpoint_every": 1, "log_every": 1,
                "select": "official", "select_every": 1, "select_crop": 16}
    config = {"inner_steps": 1}
    whole = build_method("meta_tta", config)
    whole.train(images, tmp_path / "whole", train_config=schedule)
    saved = torch.load(tmp_path / "whole" / "model.pt", weights_only=True)
    selection = saved["summary"]["selection"]
    state = torch.load(tmp_path / "whole" / "state.pt", weights_only=True)
    history = state["selector"]["history"]
    assert [h[0] for h in history] == [3, 4, 5] and selection["validated"] == 3  # every stage-2 step
    best_step, best = max(history, key=lambda h: h[1])
    assert selection["rule"] == "official" and selection["best_step"] == best_step and selection["best_psnr"] == best
    last = state["model"]
    same_as_last = all(torch.equal(saved["model"][k], last[k]) for k in last)
    assert same_as_last == (best_step == 5)

    class Stop(Exception):
        pass

    def stop_at_4(step: int, logs: dict) -> None:
        if step == 4:
            raise Stop

    cut = build_method("meta_tta", config)
    with pytest.raises(Stop):
        cut.train(images, tmp_path / "cut", train_config=schedule, callbacks=[stop_at_4])
    build_method("meta_tta", config).train(images, tmp_path / "cut", train_config=schedule)
    resumed = torch.load(tmp_path / "cut" / "model.pt", weights_only=True)
    assert resumed["summary"]["selection"] == selection
    assert all(torch.equal(saved["model"][k], resumed["model"][k]) for k in last)


def test_ridnet_baseline_has_the_official_parameter_count_and_trains_on_pairs(tmp_path, monkeypatch) -> None:
    import numpy as np

    from denoisebench.errors import ConfigError
    from denoisebench.methods import build_method
    from denoisebench.methods.base import DenoiseContext

    assert count_parameters(MODELS.get("ridnet")()) == 1_499_347  # the paper prints 1.49 M
    monkeypatch.setenv("DENOISEBENCH_TRACKING", "0")
    rng = np.random.default_rng(0)
    images = [rng.random((20, 20, 3), dtype=np.float32) for _ in range(2)]
    method = build_method("ridnet_real", {"features": 16, "reduction": 4})
    method.train(images, tmp_path, train_config={"s2_iterations": 2, "s2_batch": 2, "s2_patch": 16, "pool": "synthetic",
                                                     "seed": 0, "checkpoint_every": 1, "log_every": 1})
    assert method.last_result.steps == 2
    out = method.denoise(images[0], DenoiseContext())
    assert out.shape == images[0].shape and np.isfinite(out).all()
    with pytest.raises(ConfigError, match="s1_epochs"):
        method.train(images, tmp_path / "x", train_config={"s1_epochs": 1, "pool": "synthetic"})


def test_ablation_sets_are_deterministic_centre_crops() -> None:
    import numpy as np

    from denoisebench.methods import build_method
    from denoisebench.papers.p001_meta_tta.ablation import TABLE1, TABLE3, load_pairs

    spec = {"dataset": "demo", "split": "test", "limit": 2, "crop": 40, "noise": "composite"}
    first, again = load_pairs(spec, None, seed=3), load_pairs(spec, None, seed=3)
    assert len(first) == 2 and first[0][0].shape == (40, 40, 3) == first[0][1].shape
    assert all(np.array_equal(a[0], b[0]) for a, b in zip(first, again))
    assert not np.array_equal(first[0][0], first[0][1])  # noisy differs from clean
    keys = {key for _, key, _ in TABLE1}
    for _, _, init, config in TABLE3:  # every row builds, and starts from a Table 1 model or from random init
        assert init is None or init in keys
        build_method("meta_tta", {"stage1": "none", **config})
    for _, _, config in TABLE1:
        build_method("meta_tta", config)

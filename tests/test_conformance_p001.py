"""Paper 001 held to the authors' code (agusgun/TTAID f39ed06, ``../shared/reference/TTAID``): same weights in
both, float64, the max difference printed (``pytest -s``) and asserted.

Checked: RestorationNet / RestorationNetV0 / MaskNet forward; MAXL's look-ahead mask gradient
(``RealDenoiserBase.train_one_epoch``, its second loop); one meta-transfer step of the official loop
(``RealDenoiserMetaTransfer.train_one_epoch``: 5 inner iterations that restart from the original weights, an
effective K = 1) against :func:`mtl_step` with K = 1; the meta-test output before and after adaptation
(``RealDenoiserMetaTransfer.validate``, validation mode) against :func:`meta_test` (variant ``code``).
"""

from __future__ import annotations

import re
import types
from argparse import Namespace


import torch

from official_code import official_modules, reference_dir, report

from denoisebench.papers.p001_meta_tta import meta
from denoisebench.papers.p001_meta_tta.network import MetaTTANet

reference_dir("TTAID")
LR = 1e-3


def _plot_stub() -> types.ModuleType:
    module = types.ModuleType("utils.plot")
    module.plot_samples_per_epoch = module.plot_image = module.stitch = lambda *a, **k: None
    return module


def _ours(name: str) -> str:
    """Official parameter name -> the benchmark's (module names differ, tensors are the same)."""
    rules = ((r"^shallow_fe\.0\.", "body.shallow."), (r"^encoder\.encoder_l(\d)\.", r"body.enc\1."),
             (r"^decoder\.decoder_l(\d)\.", r"body.dec\1."), (r"^(encoder|decoder)\.(down|up)(\d\d)\.conv\.",
                                                              r"body.\2\3."),
             (r"\.model\.", ".body."), (r"^mask_net\.", "net."), (r"^pre_aux_head\.", "auxiliary_head.pre."),
             (r"^aux_pri_conjunction\.", "auxiliary_head.join."))
    for pattern, repl in rules:
        name = re.sub(pattern, repl, name)
    return name


def _chi_name(name: str) -> str:
    """RestorationNetV0's auxiliary_head.{0,1} -> the benchmark's auxiliary_head.out.{0,1}."""
    return re.sub(r"^auxiliary_head\.(\d)", r"auxiliary_head.out.\1", name)


def _copy(official: torch.nn.Module, ours: torch.nn.Module, rename=_ours) -> None:
    """Random weights into the official module, the same tensors into ours (every tensor of ours covered)."""
    torch.manual_seed(0)
    for p in official.parameters():
        torch.nn.init.normal_(p, std=0.05)
    mapped = {rename(k): v.clone() for k, v in official.state_dict().items()}
    if "net.1.body.1.weight" in mapped:  # MaskNet: one PReLU shared by the three blocks
        for i in (2, 3):
            mapped[f"net.{i}.body.1.weight"] = mapped["net.1.body.1.weight"]
    assert set(mapped) == set(ours.state_dict()), set(mapped) ^ set(ours.state_dict())
    ours.load_state_dict(mapped)


def _models() -> tuple[Namespace, MetaTTANet]:
    with official_modules("TTAID", "modules.components.real_denoiser.restoration_net",
                          "modules.components.real_denoiser.mask_net") as (rn, mn):
        official = Namespace(net=rn.RestorationNet(3, 3, 32, 16, 3).double(), mask=mn.MaskNet(3, 1, 32, 3).double())
    ours = MetaTTANet().double()
    _copy(official.net, ours.net)
    _copy(official.mask, ours.mask)
    return official, ours


def _official(cls: type, rd: types.ModuleType, official: Namespace, args: Namespace) -> torch.nn.Module:
    """An official model object around ``official``'s networks, built without its __init__ (which would switch
    on autograd anomaly detection for the whole process and open a TensorBoard writer)."""
    obj = cls.__new__(cls)
    torch.nn.Module.__init__(obj)
    obj.args, obj.device, obj.logger = args, torch.device("cpu"), rd.logging.getLogger("conformance")
    obj.restoration_net, obj.mask_net, obj.rec_criterion = official.net, official.mask, torch.nn.L1Loss()
    obj.summary_writer, obj.current_iteration, obj.current_epoch = rd.SummaryWriter(), 0, 0
    return obj


def _pair(seed: int, n: int = 2, size: int = 16) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    clean = torch.rand(n, 3, size, size, generator=g, dtype=torch.float64)
    return clean + 0.1 * torch.randn(n, 3, size, size, generator=g, dtype=torch.float64), clean


def _max(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a.detach() - b.detach()).abs().max())


def test_restoration_mask_and_chi_networks_forward_as_the_official_ones() -> None:
    official, ours = _models()
    noisy, _ = _pair(1)
    (c1, n1), (c2, n2) = official.net(noisy), ours.net(noisy)
    assert report("RestorationNet forward (clean, noisy rec.)", max(_max(c1, c2), _max(n1, n2))) <= 1e-12
    assert report("MaskNet forward", _max(official.mask(noisy), ours.mask(noisy))) <= 1e-12
    with official_modules("TTAID", "modules.components.real_denoiser.restoration_net") as (rn,):
        v0 = rn.RestorationNetV0(3, 3, 32, 16, 3).double()
    chi = MetaTTANet("chi").double()
    _copy(v0, chi.net, lambda k: _ours(_chi_name(k)))
    (c1, n1), (c2, n2) = v0(noisy), chi.net(noisy)
    assert report("RestorationNetV0 (Chi et al.) forward", max(_max(c1, c2), _max(n1, n2))) <= 1e-12


def test_maxl_lookahead_mask_gradient_equals_the_official_second_loop() -> None:
    official, ours = _models()
    noisy, clean = _pair(2)
    with official_modules("TTAID", "modules.models.real_denoiser",
                          stubs={"utils.plot": _plot_stub()}) as (rd,):
        base = _official(rd.RealDenoiserBase, rd, official, Namespace(learning_rate=LR))
        base.restoration_optimizer = torch.optim.Adam(official.net.parameters(), lr=LR)
        captured: dict[str, torch.Tensor] = {}

        class Capture:  # stands in for the mask optimiser: records the gradients its step() would apply
            def zero_grad(self) -> None:
                for p in official.mask.parameters():
                    p.grad = None

            def step(self) -> None:
                captured.update({n: p.grad.clone() for n, p in official.mask.named_parameters()})

        base.mask_optimizer = Capture()
        base.train_one_epoch([{"noisy": noisy, "clean": clean}], 0)  # theta1 pass, then the mask pass
    meta.maxl_aux_step(ours, torch.optim.Adam(ours.net.parameters(), lr=LR), noisy, clean)
    for p in ours.mask.parameters():
        p.grad = None
    meta.lookahead_mask_loss(ours, noisy, clean, LR).backward(inputs=list(ours.mask.parameters()))
    ours_grads = {n: p.grad for n, p in ours.mask.named_parameters()}
    diff = max(_max(g, ours_grads[_ours(n)]) for n, g in captured.items())
    scale = max(float(g.abs().max()) for g in captured.values())
    assert report("MAXL look-ahead mask gradient (after one theta1 Adam step)", diff) <= 1e-10 * max(scale, 1.0)


def test_one_meta_transfer_step_equals_the_official_loop_at_k1() -> None:
    official, ours = _models()
    noisy, clean = _pair(3)
    lr = 5e-5
    with official_modules("TTAID", "modules.models.real_denoiser",
                          stubs={"utils.plot": _plot_stub()}) as (rd,):
        mt = _official(rd.RealDenoiserMetaTransfer, rd, official, Namespace(learning_rate=lr))
        mt.restoration_optimizer = torch.optim.Adam(official.net.parameters(), lr=lr)
        mt.mask_optimizer = torch.optim.Adam(official.mask.parameters(), lr=lr)
        mt.num_inner_loop, mt.inner_lr = 5, lr
        mt.weight_name = [n for n, _ in official.net.named_parameters() if "head" in n]
        mt.train_one_epoch([{"noisy": noisy, "clean": clean}], 0)
    meta.mtl_step(ours, torch.optim.Adam(ours.parameters(), lr=lr), noisy, clean, steps=1, alpha=lr)
    theirs = {**{_ours(k): v for k, v in official.net.state_dict().items()},
              **{"mask." + _ours(k): v for k, v in official.mask.state_dict().items()}}
    mine = {k.removeprefix("net.") if k.startswith("net.") else k: v for k, v in ours.state_dict().items()}
    diff = max(_max(theirs[k], mine[k]) for k in theirs)
    assert report("one meta-transfer step (official 5 restarted inner steps vs K = 1), weights after Adam",
                  diff) <= 1e-12


def test_meta_test_before_and_after_equal_the_official_validate() -> None:
    official, ours = _models()
    noisy, clean = _pair(4, n=1)
    lr = 1e-3  # large enough that the four updates move the output visibly
    seen: list[torch.Tensor] = []
    with official_modules("TTAID", "modules.models.real_denoiser",
                          stubs={"utils.plot": _plot_stub()}) as (rd,):
        rd.calculate_batch_psnr = lambda gt, out: (seen.append(out.detach().clone()), (0.0, out.shape[0]))[1]
        rd.calculate_batch_ssim = lambda gt, out: (0.0, out.shape[0])
        args = Namespace(mode="validation", learning_rate=lr, beta1=0.9, beta2=0.999, output_dir="unused")
        mt = _official(rd.RealDenoiserMetaTransfer, rd, official, args)
        mt.num_inner_loop = 5
        mt.validate([{"noisy": noisy, "clean": clean}])
    before_official, after_official = seen
    result = meta.meta_test(ours, noisy, "code", steps=5, lr=lr, binarize=True)
    assert report("meta-test, before adaptation (unclamped)", _max(before_official, result.before)) <= 1e-12
    assert report("meta-test, after adaptation (Adam, 4 effective updates, clamped)",
                  _max(after_official, result.after)) <= 1e-10
    assert float((before_official < 0).sum() + (before_official > 1).sum()) > 0  # the clamp is exercised

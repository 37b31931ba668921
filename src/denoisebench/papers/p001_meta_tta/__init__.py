"""Paper 001: Gunawan, Nugroho & Park, "Test-time adaptation for real image denoising via meta-transfer learning".

Code: the networks (:mod:`.network`: multi-task restoration net, Chi et al.'s baseline as the authors ran it
(TTAID ``RestorationNetV0``), mask net), the losses (:mod:`.losses`), the three stages as functions (:mod:`.meta`:
MAXL pre-training, MAML meta-transfer, per-image meta-test), the resumable training loop (:mod:`.training`,
schedule :mod:`.schedule`, checkpoint selection :mod:`.selection`) and the method ``meta_tta`` (:mod:`.method`;
entries ``meta_tta_official``, the authors' loop with its effective inner K = 1, to which the paper's rows map, and
``meta_tta``, 5 chained inner steps as the paper's text describes); the ``ttaid`` / ``ttaid_before`` protocols
(:mod:`.registers`); the RIDNet baseline (:mod:`.ridnet`, method ``ridnet_real`` in :mod:`.baseline`, trained on
the meta-transfer pool); the meta-test report stage (:mod:`.metatest`). See docs/methods.md (paper 001).
"""

from denoisebench.papers import OfficialCheck, Paper

_TTAID = "f39ed06e562cfb12372299bf908b627c43585595"

PAPER = Paper(
    number="001",
    key="meta_tta",
    title="Test-time Adaptation for Real Image Denoising via Meta-transfer Learning",
    seed_file="001_ed9b8ff3df05127e.txt",
    reported="meta_tta.csv",
    method_map={"Ours with meta-testing": ["meta_tta_official"],
                "MAXL + MTL, aux loss MRL (masked rec.)": ["meta_tta_official"]},
    extra_rows={"Ours with meta-testing, 5 chained inner steps (as the paper's text describes; the authors' code "
                "runs an effective K = 1)": ["meta_tta"]},
    code=("method", "baseline"),
    registers=("registers", "noise"),
    networks=("network", "ridnet"),
    stages={"metatest": "metatest:main", "ablation": "ablation:main"},
    summary_extra="page_summary:summary_extra",
    note="The paper tests on Nam (1024 centre crops) and validates on its training pool; offline, CC15 (15 512-px "
         "crops of Nam's images) and PolyU test (scenes disjoint from the PolyU-train meta-transfer pool) stand in, "
         "so the mapped Nam cells below stay empty: the meta-test report (first link) puts the reproduced numbers "
         "(official `ttaid` metric) beside Tables 2-3, with before/after meta-test per image and the paper's "
         "zero-padded validation protocol. Stage 1 runs on CBSD432 crops in quick (DIV2K in the paper profile); "
         "SIDD-Small joins the pool only in the paper profile. Table 1's variants and Table 3's RI / RL / "
         "body+head rows are re-run by the stage `ablation_001` (last link) on a small schedule; RIDNet (method "
         "`ridnet_real`) has no pipeline entry yet; MIRNet is not implemented.",
    links=(("Meta-test per image (before/after, gain, validation protocols)", "../paper_001/metatest/metatest.md"),
           ("Per-image meta-test gain", "../paper_001/figures/metatest/gain.png"),
           ("Learned masks (Fig. 8 analogue)", "../paper_001/figures/metatest/masks.png"),
           ("Tables 1 and 3 re-run on a small schedule (every row)", "../paper_001/ablation/ablation.md")),
    # Run beside the authors' code on CPU, same weights in both, float64; measured by `pytest -s` of the test named.
    official_checks=tuple(OfficialCheck(component, official, _TTAID, diff, "tests/test_conformance_p001.py")
                          for component, official, diff in (
        ("RestorationNet and MaskNet forward",
         "TTAID/modules/components/real_denoiser/restoration_net.py, mask_net.py", "0 (float64)"),
        ("RestorationNetV0 forward (Table 1's Chi et al. baseline)",
         "TTAID/modules/components/real_denoiser/restoration_net.py", "0 (float64)"),
        ("MAXL look-ahead mask gradient", "TTAID/modules/models/real_denoiser.py (RealDenoiserBase.train_one_epoch)",
         "1.6e-19 (float64)"),
        ("one meta-transfer step (the official loop: an effective K = 1)",
         "TTAID/modules/models/real_denoiser.py (RealDenoiserMetaTransfer.train_one_epoch)", "0 (float64)"),
        ("meta-test output before and after adaptation",
         "TTAID/modules/models/real_denoiser.py (RealDenoiserMetaTransfer.validate)", "0 (float64)"),
    )),
)

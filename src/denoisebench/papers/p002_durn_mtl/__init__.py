"""Paper 002: Liu, Suganuma & Okatani, "Joint learning of multiple image restoration tasks" (arXiv 1907.04508).

Code: the DuRB-M network with task layouts (:mod:`.network`), the DuRN loss (:mod:`.losses`), task-cycle training
(:mod:`.training`), the method (:mod:`.method`) and the report stage (:mod:`.report`: Tables 2-3 under the DuRN
protocols, the 4-task row, the denoising extension, parameters per layout, the figure). Registered from this folder
(``registers``): the degradations motion blur, haze and rain (:mod:`.degradations`; JPEG is a core noise model),
the paired restoration sets GoPro, RESIDE ITS / SOTS-indoor and DID-MDN (:mod:`.datasets`) and the DuRN metric
protocols ``durn`` / ``durn_y`` (:mod:`.protocols`). Choices: docs/methods.md.
"""

from denoisebench.papers import OfficialCheck, Paper

_CODE_6272 = "6ac65a6d974002ea1d31feaac7a948d2bd427926"
_DURN = "9e46eaa6a8676641dc42525c1bbd1f5178fce31b"

PAPER = Paper(
    number="002",
    key="durn_mtl",
    title="Joint Learning of Multiple Image Restoration Tasks",
    seed_file="002_651b8ecb841de62b.txt",
    reported="durn_mtl.csv",
    method_map={
        # Table 2 (3-task means: computed by the report stage, see the link below)
        "R->B->H": "durn_rbh", "B->H->R": "durn_bhr", "RB->H": "durn_rb_h", "RBH": "durn_flat",
        # Table 3 (per task)
        "Ours (TV + GAP + Fusion, 3-task MTL)": "durn_rbh",
        "w/o TV, w/o GAP, w/o Fusion": "durn_rbh_plain",
        "TV only": "durn_rbh_tv",
        "GAP only": "durn_rbh_gap",
        "TV + GAP, w/o Fusion": "durn_rbh_tvgap",
        "Single task (same net): motion blur": "durn_st_blur",
        "Single task (same net): haze": "durn_st_haze",
        "Single task (same net): rain-streak": "durn_st_rain",
    },
    extra_rows={
        "Ours(4) R->B->J->H (Table 1: missing from the text)": ["durn_rbjh"],
        "Beyond the paper: RN->B->H, denoising as a 4th task": ["durn_rnbh"],
        "Beyond the paper: denoising alone (same net)": ["durn_st_denoise"],
    },
    code=("method",),
    registers=("degradations", "datasets", "protocols"),
    networks=("network",),
    stages={"report": "report:main"},
    note="Table 1 (comparison with the state of the art, Ours(3)/Ours(4)) is missing from the paper's text: only "
         "its caption survives. In the quick and demo profiles the test sets `gopro`, `sots` and `did_mdn` are "
         "STAND-INS (CBSD68 crops with uniform motion blur, haze on a synthetic depth and rain streaks, "
         "method-specs 2.9); the paper profile tests on the real GoPro, RESIDE SOTS-indoor and DID-MDN test sets "
         "(predict tells the method which set a pair comes from, so it uses that task's decoder). Training: the paper profile trains each task on its paper set (GoPro "
         "train at 640x360, RESIDE ITS, DID-MDN, DIV2K halved for JPEG); quick and demo degrade CBSD432 the "
         "stand-in way. The tables on this page use the "
         "benchmark's common protocol (RGB, rounded, Wang SSIM); the report stage rescoring with the DuRN "
         "protocols (RGB for blur/haze, Y for rain/JPEG, truncated, skimage SSIM) and the 3-task means of "
         "Table 2 is linked below.",
    links=(("Report: Tables 2-3 under the DuRN protocols, 4 tasks, denoising, parameters per layout",
            "../paper_002/report/report.md"),
           ("Figure: degraded / restored / clean per task", "../paper_002/figures/report/restoration.png")),
    # Run beside the authors' code on CPU, same weights in both, float64; measured by `pytest -s` of the test named.
    official_checks=tuple(OfficialCheck(component, official, commit, diff, "tests/test_conformance_p002.py")
                          for component, official, commit, diff in (
        ("DuRB-M blocks (TV + GAP attention), every kernel/dilation setting of the net",
         "6272-code/pietorch/DuRBs.py (DuRB_tv)", _CODE_6272, "0 (float64)"),
        ("encoder (head and DuRB1-5)", "6272-code/pietorch/M_DuRN.py, N_modules.py (EnDNet, NormalHeadDown2)", _CODE_6272,
         "0 (float64)"),
        ("SSIM loss (0.75 L1 - 1.1 SSIM): value, gradient", "DualResidualNetworks/pietorch/pytorch_ssim/__init__.py "
         "(the loss as in train/*.py)", _DURN, "9.7e-9, 3.2e-10 (float64; the official SSIM window is built in "
         "float32)"),
    )),
)

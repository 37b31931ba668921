"""Paper 004: Liu et al., "Connecting image denoising and high-level vision tasks via deep learning".

Code: the multi-scale denoiser (:mod:`.multiscale`), the separately trained denoiser (:mod:`.separate`), the
joint cascade with a frozen classifier (:mod:`.joint`, classifiers in :mod:`.highlevel`), and the stages of the
Table IV analogue (:mod:`.table4`) and the Fig. 4 analogue (:mod:`.fig4`).
"""

from denoisebench.papers import Paper

PAPER = Paper(
    number="004",
    key="semantic_denoise",
    title="Connecting Image Denoising and High-Level Vision Tasks via Deep Learning",
    seed_file="004_bf7cfd9bd2d6cc95.txt",
    reported="semantic_denoise.csv",
    method_map={
        "CBM3D": "bm3d",
        # The authors' released weights first: a cell shows the strongest evidence among the listed entries.
        "DnCNN": ["dncnn_pub_color_blind", "dncnn_color_blind"],
        "FFDNet": ["ffdnet_pub_color", "ffdnet_color"],
        "Proposed": ["liu_separate_s25", "liu_separate_s35", "liu_separate_s50"],
    },
    extra_rows={
        "Joint (L_D + 0.2 L_P + 0.25 L_H, EfficientNet-Lite0; lambda_P calibrated)":
            ["liu_joint_s25", "liu_joint_s35", "liu_joint_s50"],
        "Joint, cross-entropy only (official code)": ["liu_joint_ce_s25", "liu_joint_ce_s35", "liu_joint_ce_s50"],
        "DnCNN trained by the benchmark": ["dncnn_color_blind"],
        "FFDNet trained by the benchmark": ["ffdnet_color"],
    },
    code=("separate", "joint"),  # calibrate.py: the lambda_P / units measurement script
    networks=("multiscale",),
    stages={"table4": "table4:main", "fig4": "fig4:main"},
    # The paper's released code shaves 3 px for PSNR while the paper claims whole images.
    shave3=True,
    note="Parameter count of the benchmark's 3-scale denoiser (pinned in tests/test_paper004_models.py): "
         "1,033,443 learnable parameters; 1,026,019 when counted as Table I evidently does (conv/deconv "
         "weights and biases, without the first 3->128 convolution and the BatchNorm affine parameters), "
         "i.e. Table I's 1,026k. Only the 3-scale (128, 32, 32, 128) row of Table I was run; the other "
         "variants are params (docs/paper_004.md gives the dvc exp sweep) and their counts differ from "
         "Table I's because the paper gives no layer list for them. 'Joint' rows use EfficientNet-Lite0 (no "
         "VGG-16 weights offline), and L_H uses the clean image's predicted class (no ImageNet labels).",
    links=(
        ("Table IV analogue: classification agreement after denoising", "../paper_004/table4/highlevel.md"),
        ("Fig. 4 analogue: zoomed crops", "../paper_004/figures/fig4/fig4.png"),
    ),
)

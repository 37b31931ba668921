"""Paper 003: Song et al., "Blind2Grad: blind detail-preserving denoising via zero-shot with gradient
regularized loss".

Code: the Blind2Grad network (:mod:`.network`) and method (:mod:`.method`) with its masks (:mod:`.masks`),
T-standout (:mod:`.tstandout`), loss (:mod:`.losses`) and averaging (:mod:`.averaging`); the zero-shot
baselines of its tables, ZS-N2N (:mod:`.zsn2n`) and Self2Self (:mod:`.self2self`); the Fig. 7 analogue
(:mod:`.fig7`) and the ablation grid (:mod:`.ablation`).
"""

from denoisebench.papers import Paper

PAPER = Paper(
    number="003",
    key="blind2grad",
    title="Blind2Grad: Blind detail-preserving denoising via zero-shot with gradient regularized loss",
    seed_file="003_47fa790d21e8866e.txt",
    reported="blind2grad.csv",
    method_map={"BM3D": "bm3d", "Ours": "blind2grad", "ZS-N2N": "zsn2n", "S2S": "self2self"},
    extra_rows={"Ours (real-noise variant, dilated)": ["blind2grad_real"]},
    code=("method", "zsn2n", "self2self"),
    networks=("network",),
    # convergence: the PSNR-vs-steps curve behind the `paper` schedule (run by hand, not a DVC stage)
    stages={"fig7": "fig7:main", "ablation": "ablation:main", "convergence": "convergence:main"},
    note="The paper's own caveat: several baseline cells (σ=25 Kodak24/BSD300/Set14 and SIDD raw-RGB) were "
         "copied from the Neighbor2Neighbor paper, where those methods were trained on a dataset, so the "
         "zero-shot re-runs here are not expected to match them. Planaria (Poisson noise) is not available "
         "offline: the benchmark's Poisson λ=30/50 cells run on Kodak24 crops instead and have no reported "
         "counterpart.",
    links=(("Fig. 7 analogue: PSNR vs per-image time", "../paper_003/figures/fig7/fig7.png"),
           ("Ablation: masks, T-standout, omega", "../paper_003/ablation/ablation.md")),
)

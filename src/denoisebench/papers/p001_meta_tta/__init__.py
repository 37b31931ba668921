"""Paper 001: Gunawan, Nugroho & Park, "Test-time adaptation for real image denoising via meta-transfer learning".

Code: the networks (:mod:`.network`: multi-task restoration net, Chi et al.'s parallel-head net, mask net), the
losses (:mod:`.losses`), the three stages as functions (:mod:`.meta`: MAXL pre-training, MAML meta-transfer,
per-image meta-test), the resumable training loop (:mod:`.training`, schedule :mod:`.schedule`) and the method
``meta_tta`` (:mod:`.method`). See docs/methods.md (paper 001) for the choices.
"""

from denoisebench.papers import Paper

PAPER = Paper(
    number="001",
    key="meta_tta",
    title="Test-time Adaptation for Real Image Denoising via Meta-transfer Learning",
    seed_file="001_ed9b8ff3df05127e.txt",
    reported="meta_tta.csv",
    code=("method",),
    networks=("network",),
    stages={"metatest": "metatest:main"},
    links=(("Meta-test per image (before/after, gain, validation protocols)", "../paper_001/metatest/metatest.md"),
           ("Per-image meta-test gain", "../paper_001/figures/metatest/gain.png"),
           ("Learned masks (Fig. 8 analogue)", "../paper_001/figures/metatest/masks.png")),
)

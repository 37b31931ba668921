"""Paper 002: Liu, Suganuma & Okatani, "Joint learning of multiple image restoration tasks" (arXiv 1907.04508).

Code: the DuRB-M network with task layouts (:mod:`.network`), the DuRN loss (:mod:`.losses`), task-cycle training
(:mod:`.training`) and the method (:mod:`.method`). The degradations (motion blur, haze, rain; JPEG) are core
noise models (``denoisebench.noise.degradations``). Choices where the paper is silent: docs/methods.md.
"""

from denoisebench.papers import Paper

PAPER = Paper(
    number="002",
    key="durn_mtl",
    title="Joint Learning of Multiple Image Restoration Tasks",
    seed_file="002_651b8ecb841de62b.txt",
    reported="durn_mtl.csv",
    code=("method",),
    networks=("network",),
)

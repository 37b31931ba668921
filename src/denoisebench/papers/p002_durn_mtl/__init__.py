"""Paper 002: Liu, Suganuma & Okatani, "Joint learning of multiple image restoration tasks". Not implemented
yet: the page shows the reported numbers only."""

from denoisebench.papers import Paper

PAPER = Paper(
    number="002",
    key="durn_mtl",
    title="Joint Learning of Multiple Image Restoration Tasks",
    seed_file="002_651b8ecb841de62b.txt",
    reported="durn_mtl.csv",
)

"""Paper 001: Gunawan, Nugroho & Park, "Test-time adaptation for real image denoising via meta-transfer
learning". Not implemented yet: the page shows the reported numbers only."""

from denoisebench.papers import Paper

PAPER = Paper(
    number="001",
    key="meta_tta",
    title="Test-time Adaptation for Real Image Denoising via Meta-transfer Learning",
    seed_file="001_ed9b8ff3df05127e.txt",
    reported="meta_tta.csv",
)

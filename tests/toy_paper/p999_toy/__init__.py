"""A toy paper package for tests/test_papers.py: proves that a paper is one folder plus its params entries."""

from denoisebench.papers import Paper

PAPER = Paper(
    number="999",
    key="toy",
    title="A toy paper",
    seed_file="999_toy.txt",
    reported="reported.csv",
    method_map={"Toy net": "toy_entry"},
    code=("method",),
    networks=("network",),
    registers=("registers",),
)

"""Stage `paper_*@<name>`: run one figure/table stage of a paper package.

    python stages/paper.py <paper> <stage> [stage options...]

``<paper>`` is a paper number (``004``), key or package folder; ``<stage>`` one of its declared stages
(``denoisebench.papers.Paper.stages``). The remaining arguments go to the stage function, whose defaults write
into ``reports/paper_<NNN>/<stage>/`` (text, in git) and ``reports/paper_<NNN>/figures/<stage>/`` (images, DVC
cache); both folders exist after a run, so DVC can track them even when a stage draws no figure.
"""

from __future__ import annotations

import sys
from pathlib import Path

from denoisebench.papers import find_paper
from denoisebench.stage_support import run_stage, setup_logging


def main(argv: list[str]) -> None:
    if len(argv) < 2:
        raise SystemExit(__doc__)
    paper = find_paper(argv[0])  # an unknown paper or stage is a known error: one message, exit 2
    run = paper.stage(argv[1])
    setup_logging()
    run(argv[2:])
    for folder in (f"reports/paper_{paper.number}/{argv[1]}", f"reports/paper_{paper.number}/figures/{argv[1]}"):
        Path(folder).mkdir(parents=True, exist_ok=True)


if __name__ == "__main__":
    run_stage(lambda: main(sys.argv[1:]))

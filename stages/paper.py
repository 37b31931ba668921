"""Stage `paper_*@<name>`: run one figure/table stage of a paper package, when it is stale.

    python stages/paper.py <paper> <stage> [stage options...]

``<paper>`` is a paper number (``004``), key or package folder; ``<stage>`` one of its declared stages
(``denoisebench.papers.Paper.stages``). The remaining arguments go to the stage function, whose defaults write
into ``reports/paper_<NNN>/<stage>/`` (text) and ``reports/paper_<NNN>/figures/<stage>/`` (images); both are in
git. The stage is rebuilt only when its params, input data or the code it ran through changed
(:mod:`denoisebench.pipeline.paper`).
"""

from __future__ import annotations

import sys

from denoisebench.config import load_params
from denoisebench.papers import find_paper
from denoisebench.pipeline.paper import PaperStageStep
from denoisebench.pipeline.runner import run_stage_step
from denoisebench.stage_support import run_stage, setup_logging


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        raise SystemExit(__doc__)
    paper = find_paper(argv[0])  # an unknown paper or stage is a known error: one message, exit 2
    paper.stage(argv[1])
    setup_logging()
    params = load_params("params.yaml")
    key = f"{argv[1]}_{paper.number}"
    reads_results = key in ((params.get("paper_stages") or {}).get("results") or {})
    return run_stage_step(PaperStageStep(params, paper, argv[1], key, reads_results, argv[2:]))


if __name__ == "__main__":
    run_stage(lambda: main(sys.argv[1:]))

"""A paper package's figure/table stage (``stages/paper.py <paper> <stage>``) as a one-entry step of the runner.

DVC reruns it whenever any source changes (its deps are all of ``src/denoisebench``); the runner rebuilds it only
when its params, its input data (content digests, through the upstream stages' records) or a module it ran through
(its depfile: e.g. ``zoom.py`` for Fig. 4 of paper 004) changed, or an output differs from its record. The stage
function writes fixed paths, ``reports/paper_<NNN>/<stage>/`` and ``reports/paper_<NNN>/figures/<stage>/``, so it
works in place: both are emptied first and the record, written last, marks them complete.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from denoisebench.config import evaluation_plan
from denoisebench.pipeline.inputs import folder_digest, manifest_digests, upstream_outputs
from denoisebench.pipeline.runner import EntryStep, Output, WorkResult

#: Params sections every paper stage reads besides its own.
PAPER_STAGE_PARAMS = ("profile", "synthesize", "predict", "rehearsal")
#: Upstream outputs with one folder (or file) per entry, digested through their records.
ENTRY_OUTPUTS = ("models", "results/predictions", "results/scores")


class PaperStageStep(EntryStep):
    """One figure/table stage of a paper package (the only entry is the stage's name)."""

    stage: ClassVar[str] = "paper"
    in_place: ClassVar[bool] = True
    owns_roots: ClassVar[bool] = False  # reports/paper_<NNN>/ holds every stage of the paper

    def __init__(self, params: dict[str, Any], paper: Any, name: str, params_key: str, reads_results: bool,
                 argv: list[str]) -> None:
        root = Path(f"reports/paper_{paper.number}")
        super().__init__(params, (Output("text", root), Output("figures", root / "figures")))
        self.paper, self.name, self.params_key, self.reads_results, self.argv = (paper, name, params_key,
                                                                                 reads_results, argv)

    def entries(self) -> list[str]:
        return [self.name]

    def inputs(self, entry: str) -> dict[str, Any]:
        inputs: dict[str, Any] = {"params": {k: self.params.get(k) for k in (*PAPER_STAGE_PARAMS, self.params_key)},
                                  "argv": self.argv, "raw": folder_digest(Path("data/raw"))}
        if self.reads_results:
            inputs["noisy"] = manifest_digests(evaluation_plan(self.params), Path("data/noisy"))
            inputs["entries"] = {root: {p.name: upstream_outputs(p) for p in sorted(Path(root).glob("*"))
                                        if p.is_dir() and not p.name.startswith(".")} for root in ENTRY_OUTPUTS}
            inputs["metrics"] = folder_digest(Path("results/metrics"))
        return inputs

    def own_paper(self, entry: str) -> str | None:
        return self.paper.package

    def work(self, entry: str, staged: dict[str, Path]) -> WorkResult:
        self.paper.stage(self.name)(self.argv)
        for path in staged.values():  # both exist after a run, so DVC can track them when no figure is drawn
            path.mkdir(parents=True, exist_ok=True)
        return WorkResult()

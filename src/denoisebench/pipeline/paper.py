"""A paper package's figure/table stage (``stages/paper.py <paper> <stage>``) as a one-entry step of the runner.

DVC reruns it whenever any source changes (its deps are all of ``src/denoisebench``); the runner rebuilds it only
when its params, its input data (content digests, through the upstream stages' records) or a module it ran through
(its depfile: e.g. ``zoom.py`` for Fig. 4 of paper 004) changed, or an output differs from its record. The stage
function writes fixed paths, ``reports/paper_<NNN>/<stage>/`` and ``reports/paper_<NNN>/figures/<stage>/``, so it
works in place: both are emptied first and the record, written last, marks them complete.

A stage's params section maps profiles to options. In a rehearsal (params ``rehearsal: true``) its ``rehearsal``
options are merged (mappings key by key) over the active profile's, so the paper profile's stages run at toy size
with only sizes and schedule lengths changed; the stage function reads them from a derived params file passed as
``--params`` (every other section unchanged).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import copy

import yaml

from denoisebench.config import PROFILES, active_profile, evaluation_plan, rehearsal
from denoisebench.mirror import state_root
from denoisebench.pipeline.inputs import folder_digest, manifest_digests, upstream_outputs
from denoisebench.pipeline.runner import EntryStep, Output, WorkResult

#: Params sections every paper stage reads besides its own.
PAPER_STAGE_PARAMS = ("profile", "synthesize", "predict", "rehearsal")
#: Key of a stage section holding the options a rehearsal merges over the active profile's.
REHEARSAL_KEY = "rehearsal"
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
        params = {k: self.params.get(k) for k in PAPER_STAGE_PARAMS}
        inputs: dict[str, Any] = {"params": {**params, self.params_key: stage_options(self.params, self.params_key)},
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
        argv = self.argv
        if rehearsal(self.params) and "--params" not in argv:
            argv = [*argv, "--params", str(rehearsal_params_file(self.params, self.params_key))]
        self.paper.stage(self.name)(argv)
        for path in staged.values():  # both exist after a run, so DVC can track them when no figure is drawn
            path.mkdir(parents=True, exist_ok=True)
        return WorkResult()


def _merge(base: Any, over: Any) -> Any:
    """``over`` merged into ``base``: mappings key by key (recursively), anything else replaced."""
    if isinstance(base, dict) and isinstance(over, dict):
        return {**base, **{k: _merge(base.get(k), v) for k, v in over.items()}}
    return copy.deepcopy(over)


def stage_options(params: dict[str, Any], key: str) -> Any:
    """What stage ``key`` reads of its params section: with per-profile options, the active profile's (a
    rehearsal's ``rehearsal`` options merged over them); a section without profiles, whole."""
    section = params.get(key)
    if not isinstance(section, dict) or not set(section) & set(PROFILES):
        return section
    options = section.get(active_profile(params))
    if rehearsal(params) and REHEARSAL_KEY in section:
        options = _merge(options or {}, section[REHEARSAL_KEY])
    return options


def rehearsal_params_file(params: dict[str, Any], key: str) -> Path:
    """A params file equal to ``params`` but for stage ``key``'s active-profile options, cut by its rehearsal
    options (``.denoisebench/rehearsal/<key>.params.yaml``)."""
    derived = copy.deepcopy(params)
    section = derived.get(key)
    if isinstance(section, dict) and set(section) & set(PROFILES):
        section[active_profile(params)] = stage_options(params, key)
    path = state_root() / "rehearsal" / f"{key}.params.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(derived, sort_keys=False), encoding="utf-8")
    return path

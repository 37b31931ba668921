"""``denoisebench status``: per stage, each stale entry on its own line with why it would be rebuilt.

It asks each step what :meth:`~.runner.EntryStep.stale_reasons` the next run would find, without running
anything. A downstream stage is judged on today's upstream outputs: an entry whose upstream is stale is listed
there too once that upstream is rebuilt with different content.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from denoisebench.pipeline.runner import EntryStep


def pipeline_steps(params: dict[str, Any], params_file: str = "params.yaml") -> list[EntryStep]:
    """The train, predict and score steps with the stages' default paths, then every paper stage."""
    from denoisebench.papers import find_paper
    from denoisebench.pipeline.paper import PaperStageStep
    from denoisebench.pipeline.predict import PredictPaths, PredictStep
    from denoisebench.pipeline.score import ScorePaths, ScoreStep
    from denoisebench.pipeline.train import TrainStep

    models, predictions = Path("models"), Path("results/predictions")
    steps: list[EntryStep] = [
        TrainStep(params, params_file, models, Path("results/curves"), Path("stages/train.py").resolve()),
        PredictStep(params, PredictPaths(Path("data/noisy"), models, predictions)),
        ScoreStep(params, ScorePaths(Path("data/noisy"), predictions, models, Path("results/metrics"),
                                     Path("results/scores")))]
    for group, stages in (params.get("paper_stages") or {}).items():
        for key, stage in (stages or {}).items():
            steps.append(PaperStageStep(params, find_paper(stage["package"]), stage["stage"], key,
                                        group == "results", []))
    return steps


def stale_lines(steps: list[EntryStep], stages: list[str] | None = None) -> list[str]:
    """``<stage> <entry>: <reason>; <reason>`` for every stale entry (nothing for current ones)."""
    lines = []
    for step in steps:
        if stages and step.stage not in stages:
            continue
        for entry in step.entries():
            reasons = step.stale_reasons(entry)
            if reasons:
                name = entry if step.stage != "paper" else step.params_key
                lines.append(f"{step.stage} {name}: {'; '.join(reasons)}")
    return lines

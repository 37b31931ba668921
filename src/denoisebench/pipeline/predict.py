"""The ``predict`` step: every method entry on every test cell of the profile it applies to.

An entry's inputs: its method, config and evaluation filter, whether the profile runs it, the test cells it runs on
(resolved: set, noise, limit, crop, repeats) with the digests of their manifests (the noisy images are a pure
function of them), the cells it skips with the reasons, the ``predict`` params and the trained model's tensor
digest. A test set added for other entries leaves its record current. Its work runs in a forked child of the one stage process (torch and the methods are
imported once), whose depfile is exactly the modules that entry used; each entry's predictions are published
whole. So ``dvc exp run -S methods.classical.bm3d.<key>=...`` reruns the stage, which re-predicts bm3d only.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from denoisebench.config import (
    Cell, MethodEntry, active_profile, evaluation_plan, method_entries, method_entry, not_run_reason, section,
)
from denoisebench.pipeline.inputs import entry_spec, manifest_digests, model_digest, own_paper
from denoisebench.pipeline.runner import EntryStep, Output, WorkResult

LOG = logging.getLogger("denoisebench")
#: Method kinds that never touch torch: their device is not resolved (resolving "auto" imports torch).
CPU_ONLY_KINDS = ("identity", "classical")


@dataclass(frozen=True)
class PredictPaths:
    """Where the stage reads and writes."""

    noisy: Path
    models: Path
    out: Path


class PredictStep(EntryStep):
    """See the module docstring."""

    stage: ClassVar[str] = "predict"

    def __init__(self, params: dict[str, Any], paths: PredictPaths) -> None:
        super().__init__(params, (Output("predictions", paths.out),))
        self.paths = paths
        self.cells = evaluation_plan(params)
        self.manifests = manifest_digests(self.cells, paths.noisy)

    def entries(self) -> list[str]:
        return list(method_entries(self.params))

    def inputs(self, entry: str) -> dict[str, Any]:
        profile = active_profile(self.params)
        not_run = not_run_reason(self.params, entry)
        inputs: dict[str, Any] = {"entry": entry_spec(method_entry(self.params, entry)), "profile": profile,
                                  "not_run": not_run}
        if not_run:
            return inputs
        return {**inputs, "cells": self.entry_cells(entry), "predict": self.params.get("predict"),
                "model": model_digest(self.paths.models / entry)}

    def entry_cells(self, entry: str) -> dict[str, Any]:
        """The cells the entry is predicted on (each resolved cell with its manifest digest) and those it skips
        with the reason: a test set added for other entries leaves its record current."""
        from denoisebench.methods import METHODS
        from denoisebench.prediction import plan_entry

        missing = sorted(key for key, digest in self.manifests.items() if digest is None)
        if missing:  # not synthesized yet (the skip rules read the manifests): stale until the synthesize stage ran
            return {"not_synthesized": missing}
        spec = method_entry(self.params, entry)
        plan = plan_entry(spec, METHODS.get(spec.method).kind, self.cells, self.paths.noisy)
        return {"run": {cell.key: [dataclasses.asdict(cell), self.manifests[cell.key]] for cell, _ in plan.run},
                "skipped": plan.skipped}

    def own_paper(self, entry: str) -> str | None:
        return own_paper(method_entry(self.params, entry))

    def work(self, entry: str, staged: dict[str, Path]) -> WorkResult:
        from denoisebench.stage_support import resolve_device

        spec = method_entry(self.params, entry)
        outcome = predict_one(self.params, spec, self.cells, self.paths, staged["predictions"],
                              lambda: resolve_device(section(self.params, "predict").get("device")))
        LOG.info("%s", outcome.message)
        for result in outcome.results:  # the entry's MLflow run is opened by the score stage (timings.csv)
            LOG.info("  %s on %s: %d images, %.2f s/image", entry, result.cell.key, result.n_images,
                     result.seconds / max(result.n_images, 1))
        return WorkResult()


@dataclass(frozen=True)
class EntryOutcome:
    """What predicting one entry did: the cells run (with their timings) and a line for the log."""

    results: list[Any]
    message: str


def predict_one(params: dict[str, Any], entry: MethodEntry, cells: list[Cell], paths: PredictPaths,
                out_root: Path, device: Callable[[], str]) -> EntryOutcome:
    """Predict one entry into ``out_root``: every applicable cell, ``skipped.json`` for the others (all of them,
    with the reason, when the profile does not run the entry). ``device`` resolves the torch device (once)."""
    from denoisebench.methods import METHODS
    from denoisebench.prediction import EntryPlan, plan_entry, predict_entry, write_skipped
    from denoisebench.stage_support import build_entry_method

    skipped = not_run_reason(params, entry.entry)
    if skipped:  # nothing is built or loaded: every cell is recorded as skipped with the reason
        write_skipped(out_root, EntryPlan([], {cell.key: skipped for cell in cells}))
        return EntryOutcome([], f"{entry.entry}: {skipped}; nothing predicted")
    kind = METHODS.get(entry.method).kind  # the class only: building a learned method builds its network (torch)
    # A cheap method is built (its config checked) first, so a bad config is reported before missing data; a
    # learned one after the plan (its config was checked by its train stage, and building it imports torch).
    method = build_entry_method(params, entry) if kind in CPU_ONLY_KINDS else None
    plan = plan_entry(entry, kind, cells, paths.noisy)
    if not plan.run:  # before torch and the checkpoint: nothing of this profile applies
        write_skipped(out_root, plan)
        return EntryOutcome([], f"{entry.entry}: no test cell of profile {active_profile(params)} applies "
                                f"({len(plan.skipped)} skipped); nothing to predict")
    method = method or build_entry_method(params, entry)
    if method.needs_training:
        method.load(paths.models / entry.entry / "model.pt")
    results = predict_entry(method, entry, cells, paths.noisy, out_root,
                            "cpu" if kind in CPU_ONLY_KINDS else device(), plan)
    return EntryOutcome(results, f"{entry.entry}: {sum(r.n_images for r in results)} images in {len(results)} "
                                 f"cells, {sum(r.seconds for r in results):.1f} s")

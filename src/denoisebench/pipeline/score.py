"""The ``score`` step: every entry's predictions scored under every named protocol, one MLflow run per entry.

An entry's inputs: the content of its predictions (the predict step's recorded output digests), the test cells'
manifests, the ``profile``/``evaluation``/``score``/``synthesize`` params, its method, config and evaluation
filter, and its train summary's content. Its work (scoring, the result files and the MLflow run, which also
carries what the predict stage measured: seconds per image, zero-shot iterations, one noisy/restored sample per
cell, the cells as dataset inputs) runs in a forked child, so the predict stage never imports MLflow and each
entry's depfile holds the scoring modules it used. A checkout of identical predictions rescores nothing.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, ClassVar

from denoisebench.config import (
    Cell, MethodEntry, active_profile, evaluation_plan, method_entries, method_entry, section, set_descriptions,
)
from denoisebench.pipeline.inputs import entry_spec, file_digest, manifest_digests, own_paper, upstream_outputs
from denoisebench.pipeline.runner import EntryStep, Output, WorkResult, git_revision

LOG = logging.getLogger("denoisebench")
#: Params sections every entry's scores depend on.
SCORE_PARAMS = ("profile", "evaluation", "score", "synthesize", "rehearsal")


@dataclass(frozen=True)
class ScorePaths:
    """Where the stage reads and writes."""

    noisy: Path
    predictions: Path
    models: Path
    metrics: Path
    scores: Path


class ScoreStep(EntryStep):
    """See the module docstring."""

    stage: ClassVar[str] = "score"

    def __init__(self, params: dict[str, Any], paths: ScorePaths) -> None:
        super().__init__(params, (Output("scores", paths.scores), Output("metrics", paths.metrics, ".json")))
        self.paths = paths
        self.cells = evaluation_plan(params)
        self.manifests = manifest_digests(self.cells, paths.noisy)
        self.revision = git_revision(self.repo_root)

    def entries(self) -> list[str]:
        return list(method_entries(self.params))

    def inputs(self, entry: str) -> dict[str, Any]:
        return {"entry": entry_spec(method_entry(self.params, entry)),
                "predictions": upstream_outputs(self.paths.predictions / entry),
                "manifests": {key: digest for key, digest in self.manifests.items()  # the cells it was predicted on
                              if (self.paths.predictions / entry / key).is_dir()},
                "params": {name: self.params.get(name) for name in SCORE_PARAMS},
                "train_summary": file_digest(self.paths.models / entry / "summary.json")}

    def own_paper(self, entry: str) -> str | None:
        return own_paper(method_entry(self.params, entry))

    def work(self, entry: str, staged: dict[str, Path]) -> WorkResult:
        spec = method_entry(self.params, entry)
        out = replace(self.paths, scores=staged["scores"].parent, metrics=staged["metrics"].parent)
        summary, _ = score_entry(self.params, spec, self.cells, out, self.revision)
        for testset, labels in summary.items():
            for label, values in labels.items():
                LOG.info("%s %s/%s: PSNR %.2f dB, SSIM %.4f (%d images)", entry, testset, label,
                         values["psnr"], values["ssim"], values["n_images"])
        if summary:  # an entry with no cell in this profile gets no MLflow run (and costs no mlflow import)
            log_evaluation_run(spec, summary, self.cells, self.paths, active_profile(self.params))
        return WorkResult()


def score_entry(params: dict[str, Any], entry: MethodEntry, cells: list[Cell], paths: ScorePaths,
                git_rev: str) -> tuple[dict[str, Any], Any]:
    """Score one entry's predictions under every named protocol and write its result files.

    Returns the summary written to ``results/metrics/<entry>.json`` and the per-image frame.
    """
    import pandas as pd

    from denoisebench.methods import METHODS
    from denoisebench.metrics import resolve_protocol
    from denoisebench.result_files import score_cell, write_entry_results

    # a protocol is a mapping of fields or the name of a registered one (a paper may register its own)
    protocols = {name: resolve_protocol(spec) for name, spec in section(params, "score", "protocols").items()}
    pred_root = paths.predictions / entry.entry
    skipped_path = pred_root / "skipped.json"
    skipped = json.loads(skipped_path.read_text()) if skipped_path.is_file() else {}
    frames = [score_cell(cell, paths.noisy / cell.testset / cell.label / "clean", pred_root / cell.testset / cell.label,
                         protocols) for cell in cells if cell.key not in skipped]
    frame = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    method_cls = METHODS.get(entry.method)
    summary_path = paths.models / entry.entry / "summary.json"
    scored_sets = set(frame["testset"]) if len(frame) else set()
    profile = active_profile(params)
    meta = {
        "entry": entry.entry, "method": entry.method, "paper": method_cls.paper, "kind": method_cls.kind,
        "config": entry.config, "profile": profile,
        "limit_images": section(params, "evaluation", profile).get("limit_images"),  # per-set values: meta.sets
        "sets": {name: info for name, info in set_descriptions(params).items() if name in scored_sets},
        "protocol": protocols["default"].to_dict(), "protocol_text": protocols["default"].describe(),
        **{f"protocol_text_{name}": p.describe() for name, p in protocols.items() if name != "default"},
        "choices": list(method_cls.choices) + sigma_choice(method_cls, frame)
        + [f"not evaluated on {k}: {v}" for k, v in skipped.items()],
        "synthesis": {k: section(params, "synthesize").get(k) for k in ("seed", "clip", "quantize")},
        "train": json.loads(summary_path.read_text()) if summary_path.is_file() else {},
        "git_rev": git_rev,
    }
    return write_entry_results(entry, frame, meta, paths.metrics, paths.scores), frame


def sigma_choice(method_cls: Any, frame: Any) -> list[str]:
    """The choice a non-blind method makes on real-noise cells, where no true sigma exists."""
    if method_cls.uses_sigma and len(frame) and (frame["noise"] == "real").any():
        return ["real-noise cells: sigma estimated from each noisy image (scikit-image estimate_sigma, wavelet MAD)"]
    return []


def log_evaluation_run(entry: MethodEntry, summary: dict[str, Any], cells: list[Cell], paths: ScorePaths,
                       profile: str) -> None:
    """One MLflow run for the entry's evaluation: PSNR/SSIM, seconds per image and zero-shot iterations per cell
    (what its predict stage measured), one noisy/restored sample per cell, and the cells as dataset inputs."""
    from denoisebench.tracking import tracked_run

    scored = [cell for cell in cells if cell.label in summary.get(cell.testset, {})]
    with tracked_run(stage="score", method=entry.entry, dataset=None, profile=profile,
                     params={"entry": entry.entry, "method": entry.method, "config": entry.config,
                             "profile": profile}) as run:
        for step, cell in enumerate(scored):
            values = summary[cell.testset][cell.label]
            run.log_metrics({f"{key}.{cell.testset}.{cell.label}": value for key, value in values.items()
                             if isinstance(value, (int, float)) and key != "n_images"}, step=step)
            log_sample(run, paths.noisy, paths.predictions / entry.entry, cell)
            log_cell_input(run, paths.noisy, cell)


def log_cell_input(run: Any, noisy_root: Path, cell: Cell) -> None:
    """Log a test cell as an MLflow dataset input ("evaluation"); its digest is the sha256 of the cell's
    manifest.json (dataset, noise params, per-image seeds and shapes: synthesis is a pure function of these)."""
    manifest = noisy_root / cell.testset / cell.label / "manifest.json"
    raw = manifest.read_bytes()
    run.log_dataset(f"{cell.testset}/{cell.label}", hashlib.sha256(raw).hexdigest(), str(manifest.parent.resolve()),
                    "evaluation", {"images": len(json.loads(raw).get("images", []))})


def log_sample(run: Any, noisy_root: Path, pred_root: Path, cell: Cell) -> None:
    """Log the first image of a cell (noisy input beside the restored output) as an MLflow sample image."""
    import numpy as np

    from denoisebench.imageio import read_image
    from denoisebench.synthesis import read_manifest

    images = read_manifest(noisy_root / cell.testset / cell.label)["images"]
    if not images:
        return
    first = images[0]
    noisy = read_image(noisy_root / cell.testset / cell.label / "noisy" / first["noisy_file"])
    restored = read_image(pred_root / cell.testset / cell.label / f"{first['id']}.npy")
    run.log_image(np.concatenate([noisy, restored], axis=1), f"{cell.testset}_{cell.label}_{first['id']}")

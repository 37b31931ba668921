"""Stage `predict@<entry>`: run one method entry on every synthesized test cell it applies to."""

from __future__ import annotations

import argparse
from pathlib import Path

from denoisebench.config import active_profile, evaluation_plan, load_params, method_entry, section
from denoisebench.methods import METHODS
from denoisebench.prediction import plan_entry, predict_entry, write_skipped
from denoisebench.stage_support import LOG, build_entry_method, resolve_device, setup_logging
from denoisebench.tracking import tracked_run

#: Method kinds that never touch torch: their device is not resolved (resolving "auto" imports torch).
CPU_ONLY_KINDS = ("identity", "classical")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--entry", required=True, help="method entry of params.yaml (methods.classical/learned/cascade)")
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--noisy", default="data/noisy")
    parser.add_argument("--models", default="models")
    parser.add_argument("--out", default="results/predictions")
    args = parser.parse_args()
    setup_logging()
    params = load_params(args.params)
    entry = method_entry(params, args.entry)
    kind = METHODS.get(entry.method).kind  # the class only: building a learned method builds its network (torch)
    # A cheap method is built (its config checked) first, so a bad config is reported before missing data; a
    # learned one after the plan (its config was checked by its train stage, and building it imports torch).
    method = build_entry_method(params, entry) if kind in CPU_ONLY_KINDS else None
    cells, out_root = evaluation_plan(params), Path(args.out) / entry.entry
    plan = plan_entry(entry, kind, cells, Path(args.noisy))
    if not plan.run:  # stop before torch, the checkpoint and MLflow: nothing of this profile applies
        write_skipped(out_root, plan)
        LOG.info("%s: no test cell of profile %s applies (%d skipped, see %s); nothing to predict", entry.entry,
                 active_profile(params), len(plan.skipped), out_root / "skipped.json")
        return
    method = method or build_entry_method(params, entry)
    device = "cpu" if kind in CPU_ONLY_KINDS else resolve_device(section(params, "predict").get("device"))
    if method.needs_training:
        method.load(Path(args.models) / entry.entry / "model.pt")
    with tracked_run(stage="predict", method=entry.entry, dataset=None, profile=active_profile(params),
                     params={"entry": entry.entry, "method": entry.method, "config": entry.config,
                             "profile": active_profile(params), "device": device}) as run:
        results = predict_entry(method, entry, cells, Path(args.noisy), out_root, device, plan)
        for i, result in enumerate(results):
            LOG.info("%s on %s: %d images, %.2f s/image", entry.entry, result.cell.key, result.n_images,
                     result.seconds / max(result.n_images, 1))
            cell_name = f"{result.cell.testset}.{result.cell.label}"
            run.log_metrics({f"sec_per_image.{cell_name}": result.seconds / max(result.n_images, 1)}, step=i)
            if result.mean_iterations is not None:
                run.log_metrics({f"iterations.{cell_name}": result.mean_iterations}, step=i)
            log_sample(run, Path(args.noisy), Path(args.out) / entry.entry, result.cell)
            log_cell_input(run, Path(args.noisy), result.cell)


def log_cell_input(run, noisy_root: Path, cell) -> None:
    """Log a test cell as an MLflow dataset input ("evaluation"); its digest is the sha256 of the cell's
    manifest.json (dataset, noise params, per-image seeds and shapes: synthesis is a pure function of these)."""
    import hashlib
    import json

    manifest = noisy_root / cell.testset / cell.label / "manifest.json"
    raw = manifest.read_bytes()
    run.log_dataset(f"{cell.testset}/{cell.label}", hashlib.sha256(raw).hexdigest(), str(manifest.parent.resolve()),
                    "evaluation", {"images": len(json.loads(raw).get("images", []))})


def log_sample(run, noisy_root: Path, pred_root: Path, cell) -> None:
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


if __name__ == "__main__":
    from denoisebench.stage_support import run_stage

    run_stage(main)

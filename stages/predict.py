"""Stage `predict@<entry>`: run one method entry on every synthesized test cell it applies to.

It writes predictions and per-image timings only; the score stage logs them to MLflow with the scores (so this
stage never imports MLflow)."""

from __future__ import annotations

import argparse
from pathlib import Path

from denoisebench.config import active_profile, evaluation_plan, load_params, method_entry, not_run_reason, section
from denoisebench.methods import METHODS
from denoisebench.prediction import EntryPlan, plan_entry, predict_entry, write_skipped
from denoisebench.stage_support import LOG, build_entry_method, resolve_device, setup_logging

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
    cells, out_root = evaluation_plan(params), Path(args.out) / entry.entry
    skipped = not_run_reason(params, entry.entry)
    if skipped:  # nothing is built or loaded: every cell is recorded as skipped with the reason
        write_skipped(out_root, EntryPlan([], {cell.key: skipped for cell in cells}))
        LOG.info("%s: %s; nothing predicted", entry.entry, skipped)
        return
    kind = METHODS.get(entry.method).kind  # the class only: building a learned method builds its network (torch)
    # A cheap method is built (its config checked) first, so a bad config is reported before missing data; a
    # learned one after the plan (its config was checked by its train stage, and building it imports torch).
    method = build_entry_method(params, entry) if kind in CPU_ONLY_KINDS else None
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
    results = predict_entry(method, entry, cells, Path(args.noisy), out_root, device, plan)
    for result in results:  # the entry's MLflow run is opened by the score stage, which reads timings.csv
        LOG.info("%s on %s: %d images, %.2f s/image", entry.entry, result.cell.key, result.n_images,
                 result.seconds / max(result.n_images, 1))


if __name__ == "__main__":
    from denoisebench.stage_support import run_stage

    run_stage(main)

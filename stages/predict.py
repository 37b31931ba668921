"""Stage `predict`: run every method entry on every synthesized test cell it applies to.

One process for all entries; an entry whose config, cells, model and code are unchanged keeps its predictions (see
:mod:`denoisebench.predict_run`). ``--entry`` predicts only the named entries. It writes predictions and per-image
timings only; the score stage logs them to MLflow with the scores (so this stage never imports MLflow)."""

from __future__ import annotations

import argparse
from functools import lru_cache
from pathlib import Path

from denoisebench.config import evaluation_plan, load_params, method_entries, parse_entries, section
from denoisebench.fingerprint import manifest_digests
from denoisebench.predict_run import PredictPaths, is_current, predict_and_publish, predict_fingerprint, remove_stale
from denoisebench.stage_support import LOG, resolve_device, setup_logging


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--entry", action="append",
                        help="predict only this method entry of params.yaml (repeatable); default: every entry")
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--noisy", default="data/noisy")
    parser.add_argument("--models", default="models")
    parser.add_argument("--out", default="results/predictions")
    args = parser.parse_args()
    setup_logging()
    params = load_params(args.params)
    paths = PredictPaths(Path(args.noisy), Path(args.models), Path(args.out))
    entries = parse_entries(params, args.entry)
    if not args.entry:
        for name in remove_stale(set(method_entries(params)), paths.out):
            LOG.info("removed the predictions of %s (no longer an entry of params.yaml)", name)
    cells = evaluation_plan(params)
    manifests = manifest_digests(cells, paths.noisy)
    device = lru_cache(maxsize=None)(lambda: resolve_device(section(params, "predict").get("device")))
    kept = 0
    for entry in entries:
        fingerprint = predict_fingerprint(params, entry, manifests, paths)
        if is_current(entry.entry, fingerprint, paths):
            kept += 1
            continue
        outcome = predict_and_publish(params, entry, cells, paths, fingerprint, device)
        LOG.info("%s", outcome.message)
        for result in outcome.results:  # the entry's MLflow run is opened by the score stage (timings.csv)
            LOG.info("  %s on %s: %d images, %.2f s/image", entry.entry, result.cell.key, result.n_images,
                     result.seconds / max(result.n_images, 1))
    LOG.info("predicted %d entries, %d unchanged", len(entries) - kept, kept)


if __name__ == "__main__":
    from denoisebench.stage_support import run_stage

    run_stage(main)

"""Stage `score`: score every entry's saved predictions against the clean references under every named protocol.

One process for all entries; an entry whose predictions, cells, params and scoring code are unchanged keeps its
results (see :mod:`denoisebench.score_run`). ``--entry`` scores only the named entries.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from denoisebench.config import active_profile, evaluation_plan, load_params, method_entries, parse_entries
from denoisebench.fingerprint import manifest_digests
from denoisebench.score_run import (
    ScorePaths, is_current, log_evaluation_run, remove_stale, score_entry, score_fingerprint,
)
from denoisebench.stage_support import LOG, setup_logging
from denoisebench.tracking import flush_pending, git_revision


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--entry", action="append", help="score only this entry (repeatable); default: every entry")
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--noisy", default="data/noisy")
    parser.add_argument("--predictions", default="results/predictions")
    parser.add_argument("--models", default="models")
    parser.add_argument("--metrics", default="results/metrics")
    parser.add_argument("--scores", default="results/scores")
    args = parser.parse_args()
    setup_logging()
    params = load_params(args.params)
    paths = ScorePaths(Path(args.noisy), Path(args.predictions), Path(args.models), Path(args.metrics),
                       Path(args.scores))
    entries = parse_entries(params, args.entry)
    if not args.entry:
        for name in remove_stale(set(method_entries(params)), paths):
            LOG.info("removed the results of %s (no longer an entry of params.yaml)", name)
    cells, profile, git_rev = evaluation_plan(params), active_profile(params), git_revision() or "unknown"
    kept, manifests = 0, manifest_digests(cells, paths.noisy)
    for entry in entries:
        fingerprint = score_fingerprint(params, entry, manifests, paths)
        if is_current(entry.entry, fingerprint, paths):
            kept += 1
            continue
        summary, _ = score_entry(params, entry, cells, paths, fingerprint, git_rev)
        for testset, labels in summary.items():
            for label, values in labels.items():
                LOG.info("%s %s/%s: PSNR %.2f dB, SSIM %.4f (%d images)", entry.entry, testset, label,
                         values["psnr"], values["ssim"], values["n_images"])
        if summary:  # an entry with no cell in this profile gets no MLflow run (and costs no mlflow import)
            log_evaluation_run(entry, summary, cells, paths, profile)
    LOG.info("scored %d entries, %d unchanged", len(entries) - kept, kept)
    flushed = flush_pending()  # deferred MLflow runs (demo profile) of the train stages and of this one
    if flushed:
        LOG.info("replayed %d deferred MLflow runs into the store", flushed)


if __name__ == "__main__":
    from denoisebench.stage_support import run_stage

    run_stage(main)

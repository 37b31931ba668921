"""Stage `score`: score every entry's saved predictions against the clean references under every named protocol,
rebuilding only the stale entries (see :mod:`denoisebench.pipeline.score`). ``--entry`` scores only the named
entries."""

from __future__ import annotations

import argparse
from pathlib import Path

from denoisebench.config import load_params
from denoisebench.pipeline.runner import run_stage_step
from denoisebench.pipeline.score import ScorePaths, ScoreStep
from denoisebench.stage_support import LOG, run_stage, setup_logging


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--entry", action="append", help="score only this entry (repeatable); default: every entry")
    parser.add_argument("--params", default="params.yaml", help="the params file (default: params.yaml)")
    parser.add_argument("--noisy", default="data/noisy", help="the synthesized test cells")
    parser.add_argument("--predictions", default="results/predictions", help="the predict stage's output")
    parser.add_argument("--models", default="models", help="the trained models (train summaries)")
    parser.add_argument("--metrics", default="results/metrics", help="one JSON of headline metrics per entry")
    parser.add_argument("--scores", default="results/scores", help="per-image scores and meta, one folder per entry")
    args = parser.parse_args()
    setup_logging()
    paths = ScorePaths(Path(args.noisy), Path(args.predictions), Path(args.models), Path(args.metrics),
                       Path(args.scores))
    code = run_stage_step(ScoreStep(load_params(args.params), paths), args.entry)
    from denoisebench.tracking import flush_pending

    flushed = flush_pending()  # deferred MLflow runs (demo profile) of the train stages and of this one
    if flushed:
        LOG.info("replayed %d deferred MLflow runs into the store", flushed)
    return code


if __name__ == "__main__":
    run_stage(main)

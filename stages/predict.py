"""Stage `predict`: run every method entry on every synthesized test cell it applies to, rebuilding only the stale
entries (see :mod:`denoisebench.pipeline.predict`). ``--entry`` predicts only the named entries. It writes
predictions and per-image timings only; the score stage logs them to MLflow with the scores."""

from __future__ import annotations

import argparse
from pathlib import Path

from denoisebench.config import load_params
from denoisebench.pipeline.predict import PredictPaths, PredictStep
from denoisebench.pipeline.runner import run_stage_step
from denoisebench.stage_support import run_stage, setup_logging


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--entry", action="append",
                        help="predict only this method entry of params.yaml (repeatable); default: every entry")
    parser.add_argument("--params", default="params.yaml", help="the params file (default: params.yaml)")
    parser.add_argument("--noisy", default="data/noisy", help="the synthesized test cells")
    parser.add_argument("--models", default="models", help="the trained models, one folder per entry")
    parser.add_argument("--out", default="results/predictions", help="where predictions go, one folder per entry")
    args = parser.parse_args()
    setup_logging()
    step = PredictStep(load_params(args.params), PredictPaths(Path(args.noisy), Path(args.models), Path(args.out)))
    return run_stage_step(step, args.entry)


if __name__ == "__main__":
    run_stage(main)

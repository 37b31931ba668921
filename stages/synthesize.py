"""Stage `synthesize`: write every test cell of the active profile losslessly, with per-image seeds."""

from __future__ import annotations

import argparse
from pathlib import Path

from denoisebench.config import data_root, evaluation_plan, load_params, section
from denoisebench.fsutil import write_json_atomic
from denoisebench.stage_support import LOG, setup_logging
from denoisebench.synthesis import noise_overrides, synthesize_cell
from denoisebench.validation import SEED


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--out", default="data/noisy")
    args = parser.parse_args()
    setup_logging()
    params = load_params(args.params)
    settings = section(params, "synthesize")
    overrides = noise_overrides(settings.get("clip"), settings.get("quantize"))
    out = Path(args.out)
    cells = evaluation_plan(params)
    seed = SEED.check(settings.get("seed", 0), "params.yaml: synthesize.seed")
    for cell in cells:
        folder = synthesize_cell(cell, data_root(params), out, seed, overrides)
        LOG.info("synthesized %s -> %s", cell.key, folder)
    write_json_atomic(out / "cells.json", [cell.key for cell in cells])


if __name__ == "__main__":
    from denoisebench.stage_support import run_stage

    run_stage(main)

"""Stage `score@<entry>`: score saved predictions against the clean references under every named protocol."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pandas as pd

from denoisebench.config import active_profile, evaluation_plan, load_params, method_entry, section, set_descriptions
from denoisebench.methods import METHODS
from denoisebench.result_files import score_cell, write_entry_results
from denoisebench.stage_support import LOG, setup_logging
from denoisebench.tracking import git_revision, tracked_run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--entry", required=True)
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--noisy", default="data/noisy")
    parser.add_argument("--predictions", default="results/predictions")
    parser.add_argument("--models", default="models")
    parser.add_argument("--metrics", default="results/metrics")
    parser.add_argument("--scores", default="results/scores")
    args = parser.parse_args()
    setup_logging()
    from denoisebench.metrics import Protocol

    params = load_params(args.params)
    entry = method_entry(params, args.entry)
    protocols = {name: Protocol.from_dict(spec) for name, spec in section(params, "score", "protocols").items()}
    pred_root = Path(args.predictions) / entry.entry
    skipped = json.loads((pred_root / "skipped.json").read_text()) if (pred_root / "skipped.json").is_file() else {}
    frames = []
    for cell in evaluation_plan(params):
        if cell.key in skipped:
            continue
        frames.append(score_cell(cell, Path(args.noisy) / cell.testset / cell.label / "clean",
                                 pred_root / cell.testset / cell.label, protocols))
    frame = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    method_cls = METHODS.get(entry.method)
    summary_path = Path(args.models) / entry.entry / "summary.json"
    train_summary = json.loads(summary_path.read_text()) if summary_path.is_file() else {}
    limit = section(params, "evaluation", active_profile(params)).get("limit_images")  # per-set values: meta.sets
    meta = {
        "entry": entry.entry, "method": entry.method, "paper": method_cls.paper, "kind": method_cls.kind,
        "config": entry.config, "profile": active_profile(params), "limit_images": limit,
        "sets": {name: info for name, info in set_descriptions(params).items() if name in summary_sets(frame)},
        "protocol": protocols["default"].to_dict(), "protocol_text": protocols["default"].describe(),
        **{f"protocol_text_{name}": p.describe() for name, p in protocols.items() if name != "default"},
        "choices": list(method_cls.choices) + sigma_choice(method_cls, frame)
        + [f"not evaluated on {k}: {v}" for k, v in skipped.items()],
        "synthesis": {k: section(params, "synthesize").get(k) for k in ("seed", "clip", "quantize")},
        "train": train_summary, "git_rev": git_revision() or "unknown",
    }
    summary = write_entry_results(entry, frame, meta, Path(args.metrics), Path(args.scores))
    if not summary:  # nothing of this profile applies to the entry: no MLflow run (and no mlflow import)
        LOG.info("%s: no scored cell in profile %s; wrote empty results", entry.entry, active_profile(params))
        return
    with tracked_run(stage="score", method=entry.entry, dataset=None, profile=active_profile(params),
                     params={"entry": entry.entry, "profile": active_profile(params)}) as run:
        for testset, cells in summary.items():
            for label, values in cells.items():
                LOG.info("%s %s/%s: PSNR %.2f dB, SSIM %.4f (%d images)", entry.entry, testset, label,
                         values["psnr"], values["ssim"], values["n_images"])
                run.log_metrics({f"{k}.{testset}.{label}": v for k, v in values.items()
                                 if isinstance(v, (int, float)) and k.startswith(("psnr", "ssim"))}, step=0)


def summary_sets(frame: pd.DataFrame) -> set[str]:
    """Test sets the entry was scored on."""
    return set(frame["testset"]) if len(frame) else set()


def sigma_choice(method_cls, frame: pd.DataFrame) -> list[str]:
    """The choice a non-blind method makes on real-noise cells, where no true sigma exists."""
    if method_cls.uses_sigma and len(frame) and (frame["noise"] == "real").any():
        return ["real-noise cells: sigma estimated from each noisy image (scikit-image estimate_sigma, wavelet MAD)"]
    return []


if __name__ == "__main__":
    from denoisebench.stage_support import run_stage

    run_stage(main)

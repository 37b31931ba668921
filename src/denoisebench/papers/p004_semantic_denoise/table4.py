"""Stage `table4_004` (``python stages/paper.py 004 table4``): paper 004's Table IV analogue (classification after denoising).

For every test image, sigma and denoiser row (noisy input, CBM3D, separate, joint; each row a list of method
entries, the one trained nearest to the sigma is used), the denoised image goes to every frozen classifier and
top-1/top-5 agreement with the classifier's prediction on the clean image is measured (ImageNet labels are not
available offline). A joint denoiser evaluated with a classifier other than the one it was trained with is a
"cross-network" row. Writes ``reports/paper_004/table4/{004.json,highlevel.md}``. The noisy inputs are the
synthesize stage's own (:func:`denoisebench.probes.probe_pairs`, its seed and clip/quantize params).

Params (``table4_004.<profile>``): dataset, split, limit_images, crop (centre crop side or null), sigmas,
classifiers (name -> weights path or null), denoisers (row label -> list of method entries).
"""

from __future__ import annotations

import argparse
import functools
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import denoisebench.methods.ffdnet
import denoisebench.papers.p004_semantic_denoise.separate
import denoisebench.papers.p004_semantic_denoise.joint  # noqa: F401
from denoisebench.config import active_profile, data_root, load_params, method_entry, section
from denoisebench.errors import ConfigError
from denoisebench.fsutil import write_json_atomic, write_text_atomic
from denoisebench.papers.p004_semantic_denoise.highlevel import build_classifier
from denoisebench.papers.p004_semantic_denoise.highlevel.agreement import agreement_table, identity_denoiser, nearest_sigma
from denoisebench.methods import DenoiseContext, build_method
from denoisebench.stage_support import LOG, resolve_device, setup_logging


def row_denoiser(params: dict[str, Any], entries: list[str], models: Path, device: str) -> tuple[Callable, dict]:
    """A nearest-sigma denoiser over ``entries`` and a description (entry -> trained sigma, classifier)."""
    by_sigma: dict[float, Callable] = {}
    info: dict[str, Any] = {}
    for name in entries:
        entry = method_entry(params, name)
        method = build_method(entry.method, entry.config)
        if method.needs_training:
            method.load(models / name / "model.pt")
        noise = method.config.get("train_noise") or {}
        sigma = float(noise["sigma"]) if isinstance(noise, dict) and noise.get("sigma") is not None else -1.0
        info[name] = {"trained_sigma": None if sigma < 0 else sigma, "classifier": method.config.get("classifier")}

        def run(noisy: np.ndarray, s: float, m: Any = method) -> np.ndarray:
            return m.denoise(noisy, DenoiseContext(sigma=s, device=device))

        by_sigma[sigma] = run
    if -1.0 in by_sigma:  # a blind / non-sigma-specific entry serves every level
        blind = by_sigma[-1.0]
        return (lambda noisy, s: blind(noisy, s)), info
    return nearest_sigma(by_sigma), info


def paper_table_iv(reported: Path) -> pd.DataFrame:
    """The paper's Table IV from its reported-numbers CSV: (sigma, metric) x method."""
    ref = pd.read_csv(reported)
    ref = ref[ref["table"] == "Table IV"]
    ref = ref.assign(sigma=ref["noise"].str.extract(r"sigma(\d+)")[0].astype(float))
    return ref.pivot_table(index=["sigma", "metric"], columns="method", values="value")


def markdown(table: pd.DataFrame, meta: dict[str, Any], paper: pd.DataFrame | None) -> str:
    lines = [
        "# Paper 004, Table IV analogue: classification after denoising", "",
        (f"Profile `{meta['profile']}`; {meta['n_images']} images of `{meta['dataset']}`"
         f"{' (centre crop ' + str(meta['crop']) + ')' if meta['crop'] else ''}; AWGN not clipped, seed {meta['seed']}."),
        ("Values: agreement (%) of the top-1 class / top-5 classes on the noisy or denoised image with the "
         "classifier's **top-1 class on the clean image** (no ImageNet labels offline), not ILSVRC2012 accuracy."),
        "Rows marked *cross* use a joint denoiser trained with another classifier (the paper's cross-task idea).",
        "",
    ]
    for cname, group in table.groupby("classifier", sort=False):
        wide = group.pivot_table(index="sigma", columns="denoiser", values=["top1", "top5"])
        cols = list(dict.fromkeys(group["denoiser"]))
        lines += [f"## Classifier `{cname}`", "", "| sigma | metric | " + " | ".join(cols) + " |",
                  "|---|---|" + "---|" * len(cols)]
        for sigma in wide.index:
            for metric in ("top1", "top5"):
                vals = " | ".join(f"{wide.loc[sigma, (metric, c)]:.1f}" for c in cols)
                lines.append(f"| {sigma:g} | {metric} | {vals} |")
        cross = [d for d, i in meta["rows"].items() if any(e.get("classifier") not in (None, cname)
                                                            for e in i.values())]
        if cross:
            lines += ["", f"*cross*: {', '.join(cross)} (trained with another classifier)"]
        lines.append("")
    if paper is not None and not paper.empty:
        lines += ["## Paper (VGG-16, ILSVRC2012-val accuracy with true labels)", "",
                  "| sigma | metric | " + " | ".join(paper.columns) + " |", "|---|---|" + "---|" * len(paper.columns)]
        for (sigma, metric), row in paper.iterrows():
            lines.append(f"| {sigma:g} | {metric} | " + " | ".join(f"{v:.1f}" for v in row.values) + " |")
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--models", default="models")
    parser.add_argument("--references", default="references")
    parser.add_argument("--out", default="reports/paper_004/table4/004.json")
    parser.add_argument("--report", default="reports/paper_004/table4/highlevel.md")
    args = parser.parse_args(argv)
    setup_logging()
    from denoisebench.probes import probe_pairs
    from denoisebench.synthesis import noise_overrides

    params = load_params(args.params)
    profile = active_profile(params)
    cfg = section(params, "table4_004", profile)
    device = resolve_device(section(params, "predict").get("device"))
    synth = section(params, "synthesize")
    overrides = noise_overrides(synth.get("clip"), synth.get("quantize"))

    @functools.cache  # the first sigma's pairs also give the clean images: synthesize each sigma once
    def probes(sigma: float) -> list[Any]:
        """The synthesize stage's pairs for (dataset, AWGN sigma, limit, crop): byte-identical noisy inputs."""
        return probe_pairs(cfg["dataset"], f"awgn:sigma={sigma:g}", data_root(params), split=cfg.get("split"),
                           limit=cfg.get("limit_images"), crop=cfg.get("crop"), seed=int(synth.get("seed", 0)),
                           overrides=overrides)

    sigmas = cfg.get("sigmas", (15, 30, 45, 60))
    images = [p.clean for p in probes(float(sigmas[0]))]
    if not images or images[0].shape[2] != 3:
        raise ConfigError(f"table4_004: {cfg['dataset']} must be a non-empty colour test set")
    classifiers = {name: build_classifier(name, weights) for name, weights in (cfg.get("classifiers") or {}).items()}
    if not classifiers:
        raise ConfigError("table4_004: give at least one classifier (efficientnet_lite0: null)")
    denoisers: dict[str, Callable] = {"noisy": identity_denoiser}
    rows: dict[str, Any] = {"noisy": {}}
    for label, entries in (cfg.get("denoisers") or {}).items():
        denoisers[label], rows[label] = row_denoiser(params, list(entries), Path(args.models), device)
    start = time.perf_counter()
    table = agreement_table(images, denoisers, classifiers, sigmas,
                            noisy_inputs=lambda sigma: [p.noisy for p in probes(sigma)])
    meta = {"profile": profile, "dataset": cfg["dataset"], "n_images": len(images), "crop": cfg.get("crop"),
            "seed": int(synth.get("seed", 0)), "rows": rows, "seconds": round(time.perf_counter() - start, 1)}
    write_json_atomic(Path(args.out), {**meta, "results": table.to_dict(orient="records")})
    refs = Path(args.references)
    from denoisebench.papers import find_paper

    reported = find_paper("004").reported_path(refs)  # the declaration names the file
    paper = paper_table_iv(reported) if reported.is_file() else None
    write_text_atomic(Path(args.report), markdown(table, meta, paper))
    LOG.info("table4_004: %d rows in %.1f s -> %s", len(table), meta["seconds"], args.out)


if __name__ == "__main__":
    from denoisebench.stage_support import run_stage

    run_stage(main)

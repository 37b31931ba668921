"""One prepared script for a short GPU window (no DVC, no MLflow, no network): the readiness check, then the
paper-scale work that fits, returned as files.

    python benchmarks/gpu_window.py --out $OUT                      # on the GPU (~8 min of work after the check)
    python benchmarks/gpu_window.py --out /tmp/w --tiny             # CPU path: 2 steps, 1 image, 48 px crops

Steps:

1. ``benchmarks/gpu_check.py`` (``--budget-s`` seconds; ``--reduced`` with ``--tiny``) -> ``$OUT/gpu_check.json``.
2. Each job of ``--jobs`` (default: DnCNN-S sigma 25, ~2.6 projected H100 min at its paper schedule, and ZS-N2N,
   per-image training on the Kodak24 cells), in order, while the window's budget lasts:

   - a learned entry is trained through its own ``train()`` at its ``train.<entry>.paper`` schedule on the images
     the train stage would load (same loader, from the data mirror ``../shared/data``); its final state is copied
     to ``$OUT/checkpoints/<entry>/<config hash>/state.pt``, the layout of the train stage's resume store, so the
     pipeline resumes it at its last step instead of training
     (docs/scaling.md, "Results from a short GPU window");
   - every paper cell the entry runs on (the predict stage's skip rules) is synthesized with the pipeline's
     seeds (``synthesize_cell``: byte-identical noisy images), denoised by ``predict_cell`` and scored with the
     score stage's protocols: ``$OUT/noisy``, ``$OUT/predictions/<entry>/<set>/<noise>/``,
     ``$OUT/scores/<entry>.csv`` (per image) and ``$OUT/scores/<entry>.json`` (per cell means).

3. ``$OUT/provenance.json``: GPU, torch/CUDA versions, the git commit, each job's wall time and schedule.

Back in the checkout, ``denoisebench window import $OUT`` copies the provenance and scores (not the models) to
``windows/<date>-<gpu>-<commit>/``, whose jobs the tables show as rows ``<entry>@<window>`` with that provenance
(docs/scaling.md, "Results from a short GPU window"; a ``--tiny`` window is refused there).

Exit status 1 when a job failed (the others still ran), 2 on bad arguments.
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import subprocess
import sys
import time
import traceback
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))
DEFAULT_JOBS = ("dncnn_gray_s25", "zsn2n")
#: Test sets each default job is scored on in the window (the paper cells of those sets; all when not listed).
DEFAULT_SETS = {"zsn2n": ("kodak24_x10", "kodak24_poisson")}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", required=True, help="folder for every returned file ($OUT on the device machine)")
    p.add_argument("--jobs", nargs="*", default=list(DEFAULT_JOBS), help="params.yaml entries, in order")
    p.add_argument("--sets", nargs="*", default=None, help="test-set names to score on (default: per job)")
    p.add_argument("--budget-s", type=float, default=480.0, help="start no job after this many seconds of jobs")
    p.add_argument("--check-budget-s", type=float, default=150.0, help="gpu_check.py's own budget")
    p.add_argument("--device", default=None, help="default: cuda (cpu with --tiny)")
    p.add_argument("--tiny", action="store_true", help="CPU path: the rehearsal's cuts (2 steps, 1 image, 48 px)")
    p.add_argument("--no-check", action="store_true", help="skip gpu_check.py (its own tests cover it)")
    return p.parse_args(argv)


def provenance(device: str) -> dict[str, Any]:
    import torch

    commit = subprocess.run(["git", "-C", str(REPO), "rev-parse", "HEAD"], capture_output=True, text=True,
                            check=False).stdout.strip() or None
    dirty = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain", "--untracked-files=no"],
                           capture_output=True, text=True, check=False).stdout.strip()
    info = {"commit": commit, "dirty": bool(dirty), "torch": torch.__version__, "device": device,
            "host": platform.node(), "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    if device.startswith("cuda") and torch.cuda.is_available():
        info.update(gpu=torch.cuda.get_device_name(), cuda=torch.version.cuda)
    return info


def run_check(args: argparse.Namespace, out: Path) -> dict[str, Any]:
    cmd = [sys.executable, str(REPO / "benchmarks" / "gpu_check.py"), "--json", str(out / "gpu_check.json"),
           "--budget-s", str(args.check_budget_s)] + (["--reduced", "--only", "dncnn_gray_s25", "zsn2n"]
                                                       if args.tiny else [])
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    (out / "gpu_check.log").write_text(proc.stdout + proc.stderr, encoding="utf-8")
    return {"returncode": proc.returncode, "wall_s": time.perf_counter() - t0}


def window_params(tiny: bool) -> dict[str, Any]:
    from denoisebench.config import load_params

    params = load_params(REPO / "params.yaml")
    params.update(profile="paper", rehearsal=tiny)
    return params


def run_job(params: dict[str, Any], entry_name: str, sets: tuple[str, ...] | None, out: Path,
            device: str) -> dict[str, Any]:
    """Train (learned entries), then predict and score the entry's paper cells; the job's record."""
    from denoisebench.config import data_mirror, evaluation_plan, method_entries, method_entry, train_settings
    from denoisebench.errors import DatasetError
    from denoisebench.methods.base import METHODS
    from denoisebench.prediction import plan_entry, predict_cell
    from denoisebench.scoring import score_folders, summarize
    from denoisebench.stage_support import build_entry_method
    from denoisebench.synthesis import synthesize_cell

    entry = method_entry(params, entry_name)
    method = build_entry_method(params, entry)
    root = data_mirror(params)
    if root is None:
        raise RuntimeError("no data mirror: put shared/data beside the checkout or set DENOISEBENCH_MIRROR")
    record: dict[str, Any] = {"entry": entry_name, "method": entry.method}
    t0 = time.perf_counter()
    if method_entries(params)[entry_name] != "classical":
        from denoisebench.datasets import list_samples

        settings = {**train_settings(params, entry_name), "device": device}
        dataset, split, limit = (settings.pop(k, None) for k in ("dataset", "split", "limit_images"))
        images = [s.clean() for s in list_samples(dataset, root, split=split, limit=limit)]
        method.train(images, out / "models" / entry_name, train_config=settings, tracking=None)
        # the final state, where the train stage's resume store looks for it (<store>/<entry>/<config hash>/)
        store = out / "checkpoints" / entry_name / method.last_result.config_hash
        store.mkdir(parents=True, exist_ok=True)
        shutil.copy2(out / "models" / entry_name / "state.pt", store / "state.pt")
        record.update(train_s=time.perf_counter() - t0, schedule=settings, dataset=dataset, n_images=len(images),
                      steps=method.last_result.steps)
    absent: dict[str, str] = {}
    cells = []
    for cell in (c for c in evaluation_plan(params) if sets is None or c.testset in sets):
        try:
            if not (out / "noisy" / cell.testset / cell.label / "manifest.json").is_file():
                synthesize_cell(cell, root, out / "noisy", int(params["synthesize"]["seed"]), {})
            cells.append(cell)
        except DatasetError as exc:  # a set the mirror lacks (SIDD, RENOIR): recorded, not fatal
            absent[cell.key] = f"not in the data mirror: {exc}"
    plan = plan_entry(entry, getattr(METHODS.get(entry.method), "kind", ""), cells, out / "noisy")
    scores: dict[str, Any] = {}
    rows = []
    for cell, manifest in plan.run:
        pred = out / "predictions" / entry_name / cell.testset / cell.label
        result = predict_cell(method, entry, cell, out / "noisy" / cell.testset / cell.label, manifest, pred,
                              device)
        frame = score_folders(out / "noisy" / cell.testset / cell.label / "clean", pred,
                              params["score"]["protocols"])
        frame.insert(0, "cell", cell.key)
        rows.append(frame)
        scores[cell.key] = {**summarize(frame.drop(columns=["cell"])), "seconds": result.seconds}
    (out / "scores").mkdir(parents=True, exist_ok=True)
    if rows:
        import pandas as pd

        pd.concat(rows).to_csv(out / "scores" / f"{entry_name}.csv", index=False)
    (out / "scores" / f"{entry_name}.json").write_text(json.dumps(scores, indent=1, default=float) + "\n")
    record.update(wall_s=time.perf_counter() - t0, cells=sorted(scores), skipped={**plan.skipped, **absent})
    return record


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    import torch

    device = args.device or ("cpu" if args.tiny else "cuda")
    if device.startswith("cuda") and not torch.cuda.is_available():
        print("error: --device cuda but CUDA is not available; use --tiny (CPU path) or run on a GPU", file=sys.stderr)
        return 2
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    info = {**provenance(device), "tiny": args.tiny, "check": None if args.no_check else run_check(args, out),
            "jobs": []}
    params = window_params(args.tiny)
    start, failed = time.perf_counter(), False
    for job in args.jobs:
        if time.perf_counter() - start > args.budget_s:
            info["jobs"].append({"entry": job, "status": "not run", "reason": "window budget spent"})
            continue
        sets = tuple(args.sets) if args.sets else DEFAULT_SETS.get(job)
        try:
            info["jobs"].append({**run_job(params, job, sets, out, device), "status": "ok"})
        except Exception as exc:  # noqa: BLE001 - one job's failure is recorded, the next still runs
            failed = True
            info["jobs"].append({"entry": job, "status": "error", "error": f"{type(exc).__name__}: {exc}",
                                 "traceback": traceback.format_exc(limit=4)})
        print(f"[{time.perf_counter() - start:6.0f}s] {job}: {info['jobs'][-1]['status']}", flush=True)
        (out / "provenance.json").write_text(json.dumps(info, indent=1, default=str) + "\n", encoding="utf-8")
    (out / "provenance.json").write_text(json.dumps(info, indent=1, default=str) + "\n", encoding="utf-8")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())

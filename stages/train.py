"""Stage `train`: train every learned and cascade entry on its profile's training set, retraining only what changed.

Without ``--entry`` the stage goes through every trained entry (see :mod:`denoisebench.train_run`): an entry whose
fingerprint is unchanged is skipped, one the profile does not run gets ``not_trained.json`` at once, and each
other entry trains in its own process, ``stages/train.py --entry E``, which trains that one entry.

With ``train.<entry>.<profile>.nproc`` > 1 or env ``DENOISEBENCH_NPROC`` > 1 that process replaces itself by
``torchrun --standalone --nproc_per_node=N stages/train.py ...`` (data-parallel DDP; ``batch_size`` stays the
effective batch); only rank 0 writes the curve and summary. With env ``DENOISEBENCH_GPUS=0,1,...`` it first
claims ``nproc`` free GPUs of that list (file locks shared by every queued experiment of the repository) and
sets ``CUDA_VISIBLE_DEVICES`` to them, so ``dvc queue start -j N`` spreads experiments over the GPUs.

An interrupted run resumes from its newest checkpoint, kept in `.denoisebench/checkpoints/<entry>/<config hash>/`
(outside `models/`, which `dvc exp run` restores from dvc.lock before running).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

from denoisebench.config import active_profile, data_root, load_params, method_entry, not_run_reason, train_settings
from denoisebench.fsutil import write_json_atomic, write_text_atomic
from denoisebench.stage_support import LOG, build_entry_method, check_training_set, params_section, setup_logging

DATA_KEYS = ("dataset", "split", "limit_images")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--entry", help="train only this entry of methods.learned / methods.cascade (in this "
                                        "process); default: every trained entry whose inputs changed")
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--out", default="models")
    parser.add_argument("--curves", default="results/curves", help="folder of the training-curve CSVs (dvc plots)")
    args = parser.parse_args()
    setup_logging()
    if args.entry is None:
        return train_all(args)
    train_one(args)
    return 0


def train_all(args: argparse.Namespace) -> int:
    """Every trained entry: skip the unchanged, record the not-run, train the others one process each; the exit
    status of the first entry that fails (the entries finished before it keep their fingerprints)."""
    from denoisebench.fingerprint import digest_state, file_listing
    from denoisebench.train_run import (
        TrainPaths, is_current, record_fingerprint, remove_stale, train_fingerprint, trained_entries,
    )

    params = load_params(args.params)
    paths = TrainPaths(data_root(params), Path(args.out), Path(args.curves), Path(__file__).resolve())
    entries = trained_entries(params)
    for name in remove_stale(set(entries), paths):
        LOG.info("removed the model and curve of %s (no longer a trained entry of params.yaml)", name)
    data_digest = digest_state({"raw": file_listing(paths.data, mtimes=False)})
    kept = 0
    for name in entries:
        fingerprint = train_fingerprint(params, name, data_digest, paths)
        if is_current(name, fingerprint, paths):
            kept += 1
            continue
        skipped = not_run_reason(params, name)
        if skipped:  # no process, no torch: the outputs say why
            write_not_trained(paths.models / name, paths.curves / f"{name}.csv", skipped)
        else:
            LOG.info("train %s", name)
            worker = [sys.executable, str(paths.script), "--entry", name, "--params", args.params,
                      "--out", args.out, "--curves", args.curves]
            code = subprocess.run(worker, check=False).returncode
            if code != 0:
                LOG.error("training %s failed (exit %d); entries finished before it are kept and skipped on rerun",
                          name, code)
                return code
        record_fingerprint(name, fingerprint, paths)
    LOG.info("trained or recorded %d entries, %d unchanged", len(entries) - kept, kept)
    return 0


def train_one(args: argparse.Namespace) -> None:
    """Train the entry ``args.entry`` in this process (re-executed under torchrun when nproc > 1)."""
    from denoisebench.datasets import list_samples

    params = load_params(args.params)
    entry = method_entry(params, args.entry)
    skipped = not_run_reason(params, entry.entry)
    if skipped:  # before torch is imported: the stage costs a fraction of a second
        write_not_trained(Path(args.out) / entry.entry, Path(args.curves) / f"{entry.entry}.csv", skipped)
        LOG.info("%s: %s; nothing trained", entry.entry, skipped)
        return
    from denoisebench.training import distributed
    from denoisebench.training.curves import CurveLog
    from denoisebench.training.trainer import default_store_root, resume_store

    settings = train_settings(params, entry.entry)
    where = f"train.{entry.entry}.{active_profile(params)}"
    nproc = distributed.requested_nproc(settings, f"params.yaml: {where}")
    if nproc > 1 or "nproc" in settings:
        settings["nproc"] = nproc
    if nproc > 1 and "batch_size" in settings:  # fail once, here, rather than in every worker
        with params_section(where):
            distributed.shard(settings["batch_size"], distributed.Rank(0, nproc, 0))
    if not distributed.launched_by_torchrun():  # $DENOISEBENCH_GPUS: take free GPUs (queue workers share them)
        gpus = distributed.claim_gpus(nproc)
        if gpus:
            LOG.info("%s: GPU(s) %s (CUDA_VISIBLE_DEVICES)", entry.entry, ",".join(gpus))
    distributed.relaunch_under_torchrun(nproc, [str(Path(__file__).resolve()), *sys.argv[1:]])
    distributed.pin_local_device()
    dataset, split, limit = (settings.pop(key, None) for key in DATA_KEYS)
    check_training_set(params, entry.entry, dataset)
    method = build_entry_method(params, entry)  # a bad config fails before the images are loaded
    images = [sample.clean() for sample in list_samples(dataset, data_root(params), split=split, limit=limit)]
    LOG.info("training %s on %d images of %s%s", entry.entry, len(images), dataset, f"/{split}" if split else "")
    out_dir = Path(args.out) / entry.entry
    source = dataset_source(dataset, data_root(params), split)
    curve = CurveLog(Path(args.curves) / f"{entry.entry}.csv")
    with resume_store(default_store_root()), \
            params_section(f"train.{entry.entry}.{active_profile(params)}", only_prefix="train config:"):
        method.train(images, out_dir, train_config=settings,
                     tracking={"stage": "train", "dataset": dataset, "profile": active_profile(params),
                               "method": entry.entry, "dataset_source": source}, callbacks=[curve])
    if not distributed.is_main():  # rank 0 writes the outputs
        return
    curve.write()  # also when nothing was trained (already complete): the output exists
    (out_dir / "not_trained.json").unlink(missing_ok=True)  # left by a profile that did not run the entry
    result = method.last_result
    summary = {
        "entry": entry.entry, "profile": active_profile(params), "dataset": dataset, "split": split,
        "n_images": len(images), "steps": result.steps, "resumed_from": result.resumed_from,
        "runs": result.lineage, "world_size": result.world_size,
        "per_rank_batch": per_rank_batches(settings, result.world_size),
        "patches_per_second": round(result.patches_per_second, 2),
        "final_loss": None if result.final_loss is None else round(result.final_loss, 6),
        "schedule": settings,
    }
    write_json_atomic(out_dir / "summary.json", keep_measured_figures(out_dir / "summary.json", summary))
    LOG.info("%s: %d steps on %d process(es), %.1f patches/s, final loss %s", entry.entry, result.steps,
             result.world_size, result.patches_per_second, result.final_loss)


def per_rank_batches(settings: dict, world_size: int) -> int | dict[str, int] | None:
    """Patches per rank and step: ``batch_size / world_size``, or per batch key for a schedule with several
    (paper 001: ``s1_batch``, ``s2_batch``); None when the schedule names no batch."""
    batches = {key: value // world_size for key, value in settings.items()
               if (key == "batch_size" or key.endswith("_batch")) and isinstance(value, int) and value > 0}
    return batches["batch_size"] if list(batches) == ["batch_size"] else (batches or None)


def write_not_trained(out_dir: Path, curve: Path, reason: str) -> None:
    """The outputs of an entry the profile does not run: ``not_trained.json`` (the reason) in its model folder and
    a header-only curve; a model trained by another profile, and its curve, are kept as they are."""
    if not (out_dir / "model.pt").is_file():
        write_json_atomic(out_dir / "not_trained.json", {"reason": reason})
    if not curve.is_file():
        write_text_atomic(curve, "step,loss\n")


def dataset_source(dataset: str, root: Path, split: str | None) -> str:
    """Where the training images come from, for the MLflow dataset input: the fetched folder (and split), or the
    package for a bundled set."""
    from denoisebench.datasets.fetch import dataset_dir, get_spec

    spec = get_spec(dataset)
    where = "bundled with the package" if spec.kind == "bundled" else str(dataset_dir(spec, root).resolve())
    return f"{where} (split {split})" if split else where


def keep_measured_figures(path: Path, summary: dict) -> dict:
    """A rerun that found training already complete (resumed at the last step, nothing trained) keeps the
    throughput and final loss measured by the run that trained, instead of recording 0 patches/s."""
    if summary["resumed_from"] != summary["steps"] or not path.is_file():
        return summary
    previous = json.loads(path.read_text(encoding="utf-8"))
    neutral = lambda schedule: {k: v for k, v in (schedule or {}).items() if k != "nproc"}  # noqa: E731
    if neutral(previous.get("schedule")) != neutral(summary["schedule"]) or previous.get("steps") != summary["steps"]:
        return summary
    return {**summary, **{k: previous.get(k) for k in ("patches_per_second", "final_loss", "resumed_from",
                                                                  "world_size", "per_rank_batch")}}


if __name__ == "__main__":
    from denoisebench.stage_support import run_stage

    run_stage(main)

"""Stage `train` (``stages/train.py``): train every learned and cascade entry on its profile's training set,
rebuilding only the stale entries (:mod:`denoisebench.pipeline.train`); each entry trains in its own process,
``stages/train.py --entry E``, this module's :func:`train_one`.

With ``train.<entry>.<profile>.nproc`` > 1 or env ``DENOISEBENCH_NPROC`` > 1 that process replaces itself by
``torchrun --standalone --nproc_per_node=N stages/train.py ...`` (data-parallel DDP; ``batch_size`` stays the
effective batch); only rank 0 writes the curve and summary. With env ``DENOISEBENCH_GPUS=0,1,...`` it first
claims ``nproc`` free GPUs of that list (file locks shared by every queued experiment of the repository) and
sets ``CUDA_VISIBLE_DEVICES`` to them, so ``dvc queue start -j N`` spreads experiments over the GPUs.

An interrupted run resumes from its newest checkpoint, kept in `.denoisebench/checkpoints/<entry>/<config hash>/`
(outside `models/`, which `dvc exp run` restores from dvc.lock before running); an entry rebuilt for changed
inputs or code starts over.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from denoisebench.config import active_profile, data_root, load_params, method_entry, not_run_reason, train_settings
from denoisebench.fsutil import write_json_atomic, write_text_atomic
from denoisebench.stage_support import LOG, build_entry_method, check_training_set, params_section, setup_logging

DATA_KEYS = ("dataset", "split", "limit_images")


def main(argv: list[str] | None = None) -> int:
    """``stages/train.py``: the whole stage, or with ``--entry`` one entry's worker process."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--entry", help="train only this entry of methods.learned / methods.cascade (in this "
                                        "process, into --out, no build record); default: every stale trained entry")
    parser.add_argument("--params", default="params.yaml", help="the params file (default: params.yaml)")
    parser.add_argument("--out", default="models", help="folder of the models, one sub-folder per entry")
    parser.add_argument("--curves", default="results/curves", help="folder of the training-curve CSVs (dvc plots)")
    parser.add_argument("--report", help=argparse.SUPPRESS)  # the stage's worker report: modules, tensor digest
    args = parser.parse_args(argv)
    setup_logging()
    if args.entry is None:
        return train_all(args)
    train_one(args)
    return 0


def train_all(args: argparse.Namespace) -> int:
    """Every stale trained entry, each in its own worker process (see :mod:`denoisebench.pipeline.train`)."""
    from denoisebench.pipeline.runner import run_stage_step
    from denoisebench.pipeline.train import TrainStep

    return run_stage_step(TrainStep(load_params(args.params), args.params, Path(args.out), Path(args.curves),
                                    Path(sys.argv[0]).resolve()))


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
    from denoisebench.curves import CurveLog
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
    distributed.relaunch_under_torchrun(nproc, [str(Path(sys.argv[0]).resolve()), *sys.argv[1:]])
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
    if args.report:
        write_worker_report(Path(args.report), entry, out_dir / "model.pt")


def write_worker_report(path: Path, entry: Any, model: Path) -> None:
    """What the train step records for the entry: the modules this process imported and the model's tensors."""
    from denoisebench.pipeline.depfile import modules_used
    from denoisebench.pipeline.inputs import own_paper

    write_json_atomic(path, {"modules": modules_used(own_paper(entry), Path.cwd().resolve()),
                             "extra": {"tensors": tensor_digest(model)}})


def tensor_digest(model: Path) -> str:
    """sha256 over the saved state dict's names, dtypes, shapes and values (not the file's bytes, which also
    hold run ids and summaries)."""
    import hashlib

    import torch

    state = torch.load(model, map_location="cpu", weights_only=False)
    tensors = state.get("model", state) if isinstance(state, dict) else state
    digest = hashlib.sha256()
    for name in sorted(tensors):
        value = tensors[name]
        if isinstance(value, torch.Tensor):
            digest.update(f"{name}:{value.dtype}:{tuple(value.shape)}".encode())
            digest.update(value.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


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



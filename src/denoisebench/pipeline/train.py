"""The ``train`` step: every learned entry, then every cascade entry (a cascade starts from another entry's model).

An entry's inputs: its method, config and evaluation filter, its ``train.<entry>.<profile>`` schedule (without the
result-neutral ``nproc``), whether the profile runs it, the content of the datasets its schedule names, and for a
cascade the tensor digest of the model it starts from (a re-saved upstream model with the same tensors does not
retrain it). Each entry trains in its own process (``stages/train.py --entry E``, relaunched under torchrun for
``nproc`` > 1), which reports the modules it imported and the model's tensor digest. An entry rebuilt from scratch
(changed inputs or code) first drops its resume checkpoints, so a changed loss trains anew instead of resuming at
the last step of the old run; an interrupted build of the same inputs resumes.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, ClassVar

from denoisebench.config import (
    TRAINED_GROUPS, active_profile, data_root, method_entries, method_entry, not_run_reason, train_settings,
)
from denoisebench.mirror import checkpoint_root
from denoisebench.pipeline.inputs import entry_spec, file_digest, folder_digest, model_digest, own_paper
from denoisebench.pipeline.runner import EntryFailed, EntryStep, Output, WorkResult

#: Schedule keys that do not change the trained model (DDP on N processes equals one process).
NEUTRAL_SCHEDULE_KEYS = ("nproc",)
#: Schedule keys naming datasets the entry reads (a pool entry may carry a split: ``polyu/train``).
DATASET_KEYS = ("dataset", "pool")
#: The worker's report (modules, tensor digest), written into the staging folder.
WORKER_REPORT = ".worker.json"


def trained_entries(params: dict[str, Any]) -> list[str]:
    """The entries of ``methods.learned`` then ``methods.cascade``, in params order."""
    groups = method_entries(params)
    return [name for group in TRAINED_GROUPS for name, g in groups.items() if g == group]


def schedule_datasets(schedule: dict[str, Any]) -> list[str]:
    """The dataset names a schedule reads (``dataset``, ``pool``; ``name/split`` -> ``name``)."""
    names: list[str] = []
    for key in DATASET_KEYS:
        value = schedule.get(key)
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, str):
                names.append(item.split("/")[0])
    return names


def dataset_digests(params: dict[str, Any], names: list[str]) -> dict[str, str | None]:
    """Content digest of each named dataset's folder under the data root (None for a bundled set or one that
    is not there; an unknown name is the worker's error to report)."""
    from denoisebench.datasets import DATASETS

    root = data_root(params)
    return {name: folder_digest(root / DATASETS.get(name).folder) if name in DATASETS else None for name in names}


class TrainStep(EntryStep):
    """See the module docstring."""

    stage: ClassVar[str] = "train"
    forked: ClassVar[bool] = False  # each entry is its own worker process (torchrun, GPU claims)

    def __init__(self, params: dict[str, Any], params_file: str, models: Path, curves: Path, script: Path) -> None:
        super().__init__(params, (Output("model", models), Output("curve", curves, ".csv")))
        self.params_file, self.script = params_file, script

    def entries(self) -> list[str]:
        return trained_entries(self.params)

    def schedule(self, entry: str) -> dict[str, Any]:
        """The schedule the worker trains with (a rehearsal's cut included), without result-neutral keys."""
        return {k: v for k, v in train_settings(self.params, entry).items() if k not in NEUTRAL_SCHEDULE_KEYS}

    def inputs(self, entry: str) -> dict[str, Any]:
        spec = method_entry(self.params, entry)
        not_run = not_run_reason(self.params, entry)
        schedule = self.schedule(entry)
        inputs: dict[str, Any] = {"entry": entry_spec(spec), "profile": active_profile(self.params),
                                  "not_run": not_run}
        if not_run:
            return inputs
        init = spec.config.get("init_checkpoint")
        return {**inputs, "schedule": schedule,
                "data": dataset_digests(self.params, schedule_datasets(schedule)),
                "init_checkpoint": (model_digest(Path(init).parent) if Path(init).name == "model.pt"
                                    else file_digest(Path(init))) if init else None}

    def own_paper(self, entry: str) -> str | None:
        return own_paper(method_entry(self.params, entry))

    def reset(self, entry: str) -> None:
        """Drop the entry's resume checkpoints, so changed code trains anew instead of resuming the old run's last
        step."""
        shutil.rmtree(checkpoint_root() / entry, ignore_errors=True)

    def work(self, entry: str, staged: dict[str, Path]) -> WorkResult:
        from denoisebench.pipeline.train_worker import write_not_trained

        reason = not_run_reason(self.params, entry)
        if reason:  # no process, no torch: the outputs say why
            write_not_trained(staged["model"], staged["curve"], reason)
            return WorkResult(modules={})
        report = staged["model"].parent.parent / WORKER_REPORT
        report.unlink(missing_ok=True)
        worker = [sys.executable, str(self.script), "--entry", entry, "--params", self.params_file,
                  "--out", str(staged["model"].parent), "--curves", str(staged["curve"].parent),
                  "--report", str(report)]
        code = subprocess.run(worker, check=False).returncode
        if code != 0 or not report.is_file():
            raise EntryFailed(entry, code or 1)
        data = json.loads(report.read_text(encoding="utf-8"))
        return WorkResult(data["modules"], data["extra"])

"""MLflow tracking: one run per stage execution, in a store located by absolute path.

The default store is ``sqlite:///<repo root>/mlflow.db`` (artifacts in ``<repo root>/mlartifacts``), so
``mlflow ui`` started from the repository root shows every run. ``MLFLOW_TRACKING_URI`` overrides it (a
tracking server, another file). The repository root is ``DENOISEBENCH_ROOT`` when set, else the nearest folder
above the working directory that holds ``dvc.yaml``. Queued DVC experiments run in a temporary copy of the
repository: set ``MLFLOW_TRACKING_URI`` or ``DENOISEBENCH_ROOT`` to keep their runs in the main store.

MLflow is imported lazily, with telemetry off. Three modes (:func:`tracking_mode`): ``live`` writes to the store
as the stage runs; ``deferred`` records the run in a local journal that one later process replays into the store
(:mod:`denoisebench.tracking_journal`: the ``score`` stage does it, so a ``demo`` stage never pays MLflow's ~4 s
start-up); ``off`` (``tracked_run(..., enabled=False)`` or env ``DENOISEBENCH_TRACKING=0``) gives a no-op run
with the same API (fast tests, quick experiments).

Runs of one pipeline run are grouped: under ``dvc exp run`` (``DVC_EXP_NAME``), or with ``DENOISEBENCH_RUN_GROUP``
set, every stage run is a child of one parent run named after the group and carries the tag ``run_group``.
A resumed training is a new run tagged ``resumed_from`` (the run it continues) and ``resumed_from_step``.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from denoisebench.mirror import find_repo_root

EXPERIMENT_NAME = "denoisebench"
GROUP_ENV = "DENOISEBENCH_RUN_GROUP"
PARENT_TAG = "mlflow.parentRunId"
#: Experiment tags: MLflow 3 opens an experiment on its GenAI overview unless it is marked as model training.
EXPERIMENT_TAGS = {"mlflow.experimentKind": "custom_model_development"}
_METRIC_BATCH = 1000  # MLflow's per-batch metric limit
_PARAM_VALUE_LIMIT = 6000  # MLflow truncates longer param values


def tracking_uri(repo_root: Path | None = None) -> str:
    """``MLFLOW_TRACKING_URI`` if set, else ``sqlite:///<absolute repo root>/mlflow.db``."""
    env = os.environ.get("MLFLOW_TRACKING_URI")
    if env:
        return env
    root = Path(repo_root).resolve() if repo_root is not None else find_repo_root()
    return f"sqlite:///{(root / 'mlflow.db').as_posix()}"


def artifact_root(uri: str) -> str | None:
    """Absolute artifact folder beside a SQLite store (``<db folder>/mlartifacts``), None for other stores."""
    if not uri.startswith("sqlite:///"):
        return None
    db = Path(uri[len("sqlite:///") :])
    return (db.parent / "mlartifacts").resolve().as_uri()


def flatten_params(params: dict[str, Any], prefix: str = "") -> dict[str, str]:
    """Nested dict -> ``{"a.b": "value"}`` with MLflow's string form of every value."""
    flat: dict[str, str] = {}
    for key, value in params.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten_params(value, prefix=f"{name}."))
        else:
            flat[name] = str(value)[:_PARAM_VALUE_LIMIT]
    return flat


def git_revision(cwd: Path | None = None) -> str | None:
    """``git rev-parse HEAD`` of ``cwd`` (or the working directory), None when git or a repository is missing."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    rev = out.stdout.strip()
    return rev if out.returncode == 0 and rev else None


#: Profiles whose runs are deferred by default (seconds of work per stage: MLflow's start-up would dominate).
DEFERRED_PROFILES = ("demo",)
MODES = ("live", "deferred", "off")


def tracking_mode(enabled: bool = True, profile: str | None = None) -> str:
    """``off`` when ``enabled`` is False or env ``DENOISEBENCH_TRACKING`` is 0/false/no/off; ``live`` or
    ``deferred`` when the variable says so; else ``deferred`` for :data:`DEFERRED_PROFILES`, ``live`` otherwise."""
    flag = os.environ.get("DENOISEBENCH_TRACKING", "1").strip().lower()
    if not enabled or flag in {"0", "false", "no", "off"}:
        return "off"
    if flag in MODES:
        return flag
    return "deferred" if profile in DEFERRED_PROFILES else "live"


def tracking_enabled(enabled: bool = True) -> bool:
    """False when ``enabled`` is False or env ``DENOISEBENCH_TRACKING`` is 0/false/no/off."""
    return tracking_mode(enabled) != "off"


def dvc_exp_name() -> str | None:
    """The DVC experiment this process runs in (``DVC_EXP_NAME``, set by ``dvc exp run``), or None."""
    return os.environ.get("DVC_EXP_NAME") or None


def run_group() -> str | None:
    """The pipeline run this stage belongs to: ``DENOISEBENCH_RUN_GROUP`` if set, else ``DVC_EXP_NAME``, else None."""
    group = os.environ.get(GROUP_ENV) or dvc_exp_name()
    if group and "'" in group:
        from denoisebench.errors import ConfigError

        raise ConfigError(f"run group {group!r} (env {GROUP_ENV} or DVC_EXP_NAME) must not contain a quote; "
                          "choose another name")
    return group


def _mlflow() -> Any:
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    import mlflow

    return mlflow


class NullRun:
    """A run that records nothing; same API as :class:`TrackedRun`."""

    run_id: str | None = None

    def log_metrics(self, metrics: dict[str, float], step: int | None = None) -> None:
        """Ignore metrics."""

    def log_params(self, params: dict[str, Any]) -> None:
        """Ignore params."""

    def log_image(self, image: np.ndarray, name: str) -> None:
        """Ignore an image."""

    def log_artifact(self, path: str | os.PathLike[str], artifact_path: str | None = None) -> None:
        """Ignore a file."""

    def set_tags(self, tags: dict[str, Any]) -> None:
        """Ignore tags."""

    def log_dataset(self, name: str, digest: str, source: str, context: str,
                    profile: dict[str, Any] | None = None) -> None:
        """Ignore a dataset input."""


class TrackedRun:
    """An open MLflow run, written through an ``MlflowClient`` (no global active-run state).

    Args:
        client: the MLflow client of the store.
        run_id: the run's id.
    """

    def __init__(self, client: Any, run_id: str) -> None:
        self.client = client
        self.run_id = run_id
        self._params: dict[str, str] = dict(client.get_run(run_id).data.params)

    def log_metrics(self, metrics: dict[str, float], step: int | None = None) -> None:
        """Log numeric metrics at ``step`` (non-finite values are logged as they are; None values are skipped)."""
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        batch = [
            Metric(key, float(value), now, int(step or 0)) for key, value in metrics.items() if value is not None
        ]
        if batch:
            self.client.log_batch(self.run_id, metrics=batch)

    def log_params(self, params: dict[str, Any]) -> None:
        """Log (flattened) params; keys already logged with the same value are skipped.

        A key already logged with a *different* value is not re-logged (MLflow forbids it): a warning names it.
        """
        from mlflow.entities import Param

        new: list[Any] = []
        for key, value in flatten_params(params).items():
            old = self._params.get(key)
            if old is None:
                new.append(Param(key, value))
                self._params[key] = value
            elif old != value:
                warnings.warn(
                    f"MLflow run {self.run_id}: param {key!r} was logged as {old!r}; keeping it and ignoring the new "
                    f"value {value!r} (params are immutable; start a fresh run to change it)",
                    stacklevel=2,
                )
        for start in range(0, len(new), 100):  # MLflow's per-batch param limit
            self.client.log_batch(self.run_id, params=new[start : start + 100])

    def log_image(self, image: np.ndarray, name: str) -> None:
        """Log an (H, W, C) float image in [0, 1] as ``images/<name>.png`` (clipped and rounded to uint8)."""
        from denoisebench.imageio import to_uint8

        arr = to_uint8(np.asarray(image))
        if arr.ndim == 3 and arr.shape[2] == 1:
            arr = arr[:, :, 0]
        self.client.log_image(self.run_id, arr, artifact_file=f"images/{name}.png")

    def log_artifact(self, path: str | os.PathLike[str], artifact_path: str | None = None) -> None:
        """Copy a local file into the run's artifacts."""
        self.client.log_artifact(self.run_id, str(path), artifact_path=artifact_path)

    def set_tags(self, tags: dict[str, Any]) -> None:
        """Set tags (None values are skipped)."""
        for key, value in tags.items():
            if value is not None:
                self.client.set_tag(self.run_id, key, str(value))

    def log_dataset(self, name: str, digest: str, source: str, context: str,
                    profile: dict[str, Any] | None = None) -> None:
        """Log a dataset as a run input (MLflow's dataset tracking): ``digest`` identifies its content (first 36
        characters kept), ``source`` where it was read, ``context`` its role ("training", "evaluation")."""
        import json

        from mlflow.entities import Dataset, DatasetInput, InputTag

        dataset = Dataset(name=name, digest=digest[:36], source_type="local", source=json.dumps({"uri": source}),
                          profile=json.dumps(profile) if profile else None)
        self.client.log_inputs(self.run_id, datasets=[DatasetInput(dataset, [InputTag("mlflow.data.context",
                                                                                       context)])])

    def copy_metrics(self, source_run_id: str, max_step: int) -> int:
        """Copy every metric value of ``source_run_id`` logged at a step <= ``max_step`` into this run; return how
        many values were copied."""
        from mlflow.entities import Metric

        values = [Metric(key, m.value, m.timestamp, m.step)
                  for key in self.client.get_run(source_run_id).data.metrics
                  for m in self.client.get_metric_history(source_run_id, key) if m.step <= max_step]
        for start in range(0, len(values), _METRIC_BATCH):
            self.client.log_batch(self.run_id, metrics=values[start : start + _METRIC_BATCH])
        return len(values)


def open_store(uri: str) -> tuple[Any, str]:
    """An ``MlflowClient`` of ``uri`` and the benchmark's experiment id in it.

    For a SQLite store the first access (which creates or migrates the schema) holds an exclusive lock on
    ``<db>.lock``: two queued experiments opening a fresh store at once raced in MLflow's schema migration.
    """
    mlflow = _mlflow()
    if not uri.startswith("sqlite:///"):
        client = mlflow.tracking.MlflowClient(tracking_uri=uri)
        return client, _experiment_id(client, uri)
    import fcntl

    lock_path = Path(uri[len("sqlite:///") :]).with_suffix(".db.lock")
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:  # the client may open (create, migrate) the store as soon as it is built
            client = mlflow.tracking.MlflowClient(tracking_uri=uri)
            return client, _experiment_id(client, uri)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _experiment_id(client: Any, uri: str) -> str:
    """The benchmark experiment's id (created when missing), marked as a model-training experiment."""
    experiment = client.get_experiment_by_name(EXPERIMENT_NAME)
    if experiment is None:
        try:
            client.create_experiment(EXPERIMENT_NAME, artifact_location=artifact_root(uri), tags=EXPERIMENT_TAGS)
        except Exception as exc:  # noqa: BLE001 (another process may have created it meanwhile: looked up below)
            failure: Exception | None = exc
        else:
            failure = None
        experiment = client.get_experiment_by_name(EXPERIMENT_NAME)
        if experiment is None:
            raise RuntimeError(f"MLflow store {uri}: could not create the experiment {EXPERIMENT_NAME!r}") from failure
    for key, value in EXPERIMENT_TAGS.items():  # stores made before the tag existed
        if experiment.tags.get(key) != value:
            client.set_experiment_tag(experiment.experiment_id, key, value)
    return experiment.experiment_id


def group_parent(client: Any, experiment_id: str, group: str, start_time: int | None = None) -> str:
    """The parent run of pipeline run ``group`` (found by its tags, else created), marked RUNNING.

    ``start_time`` (ms since the epoch): when the group's first child started, given when that child is replayed
    later (deferred tracking), so that a new parent does not start after its children; default now."""
    baseline = os.environ.get("DVC_EXP_BASELINE_REV")
    query = f"tags.run_group = '{group}' and tags.run_kind = 'pipeline'"
    if baseline:
        query += f" and tags.dvc_exp_baseline_rev = '{baseline}'"
    found = client.search_runs([experiment_id], filter_string=query, max_results=1,
                               order_by=["attributes.start_time ASC"])
    if found:
        client.update_run(found[0].info.run_id, status="RUNNING")
        return found[0].info.run_id
    tags = {"run_group": group, "run_kind": "pipeline", "dvc_exp_name": dvc_exp_name(),
            "dvc_exp_baseline_rev": baseline}
    return client.create_run(experiment_id, run_name=group, start_time=start_time,
                             tags={k: str(v) for k, v in tags.items() if v is not None}).info.run_id


def _link_resumed(client: Any, run: TrackedRun, previous: str, step: int) -> None:
    """Tag ``run`` as continuing ``previous`` from ``step`` and copy that run's curves up to ``step``, so the new
    run holds the model's whole curve with each step once. A ``previous`` left RUNNING (a killed process) is
    marked KILLED, and so is its parent pipeline run if still RUNNING."""
    run.set_tags({"resumed_from": previous, "resumed_from_step": step})
    try:
        old = client.get_run(previous)
    except Exception:  # noqa: BLE001 (any store error: the link is kept, the copy skipped)
        warnings.warn(f"MLflow run {previous} (resumed from) not found in {client.tracking_uri}; its curves up to "
                      f"step {step} are not copied", stacklevel=3)
        return
    if old.info.status == "RUNNING":
        client.set_terminated(previous, status="KILLED")
        parent = old.data.tags.get(PARENT_TAG)
        if parent and client.get_run(parent).info.status == "RUNNING":  # its pipeline run died with it
            client.set_terminated(parent, status="KILLED")
    run.copy_metrics(previous, step)


def paper_of(name: str) -> str | None:
    """The paper key of method or params entry ``name`` (``"semantic_denoise"``; ``"baseline"`` for the shared
    zoo), or None when neither is known."""
    from denoisebench.errors import DenoiseBenchError
    from denoisebench.methods import METHODS

    method = name
    try:
        import yaml

        from denoisebench.config import method_entries

        params = yaml.safe_load((find_repo_root() / "params.yaml").read_text(encoding="utf-8")) or {}
        group = method_entries(params).get(name)
        if group is not None:
            method = str((params["methods"][group][name] or {}).get("method") or name)
    except (OSError, ValueError, TypeError, AttributeError, DenoiseBenchError):
        pass
    try:
        return str(METHODS.get(method).paper)
    except (DenoiseBenchError, KeyError):
        return None


def stage_tags(stage: str, method: str, dataset: str | None, profile: str | None, group: str | None) -> dict[str, Any]:
    """The tags of a stage run (None values are not set): ``paper`` is the method's paper key (``baseline`` for
    the shared zoo), so every run of one paper's entries can be filtered (``tags.paper = 'semantic_denoise'``)."""
    revision = git_revision(find_repo_root())
    return {"stage": stage, "method": method, "paper": paper_of(method), "dataset": dataset, "profile": profile,
            "git_revision": revision, "mlflow.source.git.commit": revision, "dvc_exp_name": dvc_exp_name(),
            "run_group": group, "run_kind": "stage"}


def run_name(stage: str, method: str, dataset: str | None) -> str:
    """``stage-method[-dataset]``."""
    return "-".join(str(part) for part in (stage, method, dataset) if part)


@contextlib.contextmanager
def _journal_run(stage: str, method: str, dataset: str | None, params: dict[str, Any],
                 resumed_from: tuple[str, int] | None, profile: str | None) -> Iterator[Any]:
    """A deferred run (:class:`denoisebench.tracking_journal.JournalRun`), ended FINISHED or FAILED."""
    from denoisebench.tracking_journal import JournalRun, journal_root

    group = run_group()
    run = JournalRun(journal_root(find_repo_root()), {
        "run_name": run_name(stage, method, dataset), "group": group,
        "tags": {k: v for k, v in stage_tags(stage, method, dataset, profile, group).items() if v is not None},
        "resumed_from": list(resumed_from) if resumed_from else None})
    run.log_params(params)
    status = "FAILED"
    try:
        yield run
        status = "FINISHED"
    finally:
        run.end(status)


def flush_pending(client: Any = None, experiment_id: str | None = None) -> int:
    """Replay the deferred runs of this repository into the MLflow store (opened here when not given); return how
    many. Nothing is imported when there is no journal."""
    from denoisebench.tracking_journal import flush_journals, journal_root, pending

    root = journal_root(find_repo_root())
    folders = pending(root)
    if not folders:
        return 0
    if client is None:
        try:
            client, experiment_id = open_store(tracking_uri())
        except Exception as exc:  # noqa: BLE001 - a damaged store must not block the pipeline; the journals wait
            import logging

            logging.getLogger("denoisebench").warning(
                "MLflow store %s cannot be opened (%s: %s); %d deferred run(s) stay in %s: repair or move the store "
                "aside, then `denoisebench tracking flush`", tracking_uri(), type(exc).__name__,
                str(exc).splitlines()[0] if str(exc) else "", len(pending(root)), root)
            return 0
    _parents_first(folders, client, str(experiment_id))
    return flush_journals(root, client, experiment_id)


def _parents_first(folders: list[Path], client: Any, experiment_id: str) -> None:
    """Open the parent run of every run group among the journals ``folders``, started when the group's first
    journal started: a parent created while its children are replayed would start after they ended."""
    from denoisebench.tracking_journal import _read_events  # the journal's own reader

    starts: dict[str, int] = {}
    for folder in folders:
        events = _read_events(folder)
        start = events[0] if events and events[0].get("op") == "start" else {}
        if start.get("group") and isinstance(start.get("time"), int):
            starts[start["group"]] = min(starts.get(start["group"], start["time"]), start["time"])
    for group, time_ms in starts.items():
        group_parent(client, experiment_id, group, start_time=time_ms)


@contextlib.contextmanager
def tracked_run(
    stage: str,
    method: str,
    dataset: str | None,
    params: dict[str, Any],
    resumed_from: tuple[str, int] | None = None,
    enabled: bool = True,
    profile: str | None = None,
) -> Iterator[Any]:
    """Open a new MLflow run for one stage execution (a :class:`TrackedRun`; a journal run in deferred mode, a
    :class:`NullRun` when off: :func:`tracking_mode`).

    Params are logged once (MLflow params never change); a resumed training is a new run with the params of this
    execution, linked to the run it continues. Under a run group (:func:`run_group`) the run is a child of the
    group's parent run. The run (and the parent) end FINISHED, or FAILED when the block raises.

    Args:
        stage: DVC stage name (``train``, ``predict``, ...).
        method: method or table entry name.
        dataset: dataset or test-set name, if any.
        params: the run's params (nested dicts are flattened with dots).
        resumed_from: ``(run id, step)`` of the run a resumed training continues: tagged ``resumed_from`` and
            ``resumed_from_step``; its metrics up to that step are copied into the new run.
        enabled: False gives a :class:`NullRun`.
        profile: the params profile (demo/quick/paper), tagged when given; picks the default mode.
    """
    mode = tracking_mode(enabled, profile)
    if mode == "off":
        yield NullRun()
        return
    if mode == "deferred":
        with _journal_run(stage, method, dataset, params, resumed_from, profile) as run:
            yield run
        return
    client, experiment_id = open_store(tracking_uri())
    flush_pending(client, experiment_id)  # deferred runs of earlier stages first, so the store keeps their order
    group = run_group()
    parent = group_parent(client, experiment_id, group) if group else None
    run = TrackedRun(client, client.create_run(experiment_id, run_name=run_name(stage, method, dataset)).info.run_id)
    run.set_tags({**stage_tags(stage, method, dataset, profile, group), PARENT_TAG: parent})
    run.log_params(params)
    if resumed_from is not None:
        _link_resumed(client, run, *resumed_from)
    status = "FAILED"
    try:
        yield run
        status = "FINISHED"
    finally:
        client.set_terminated(run.run_id, status=status)
        if parent is not None:
            client.set_terminated(parent, status=status)

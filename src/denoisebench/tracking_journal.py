"""Deferred MLflow runs: a stage records its run in a local journal; one later process replays it into MLflow.

Importing MLflow and opening its SQLite store costs a stage process about 4 s of CPU; in the ``demo`` profile
(seconds of work per stage) that was most of the pipeline's time. In deferred mode (see
:func:`denoisebench.tracking.tracking_mode`) :func:`denoisebench.tracking.tracked_run` yields a
:class:`JournalRun`: the same API, writing each call as one JSON line to
``<repo root>/.denoisebench/mlflow-journal/<run id>/events.jsonl`` (images and artifacts copied beside it), with
the time it happened. :func:`flush_journals` (called when a live run opens, by the ``score`` stage, and by
``denoisebench tracking flush``) replays every finished journal into the store in start order, with the original
timestamps, parent run group, tags, params, metrics, datasets, images and status, then deletes it.

The MLflow run gets a new id (MLflow assigns ids); the journal's id (32 hex characters, what ``summary.json`` and a
checkpoint record as ``run_id``) is kept as the run's tag ``journal_run_id``, and a resumed run's ``resumed_from``
names its predecessor's MLflow id once both are replayed. A journal whose process died without ending it is
replayed as KILLED once its process is gone.

Replay is idempotent: one process replays at a time (a lock beside the journal root), the replayed run is tagged
``journal_replayed=1`` as its last write, and a replay finds the runs already tagged with its journal id first: a
complete one is kept (the journal was replayed but not yet deleted when its process was killed), incomplete ones (a
replay killed half-way) are deleted before the journal is replayed again. So one journal gives exactly one MLflow run
with its final status, however often and wherever it is interrupted.

A journal that cannot be replayed (an artifact file missing, an MLflow error) is set aside to
``.denoisebench/mlflow-journal-failed/<id>/`` with ``reason.txt`` and one warning line; the pipeline goes on.
``denoisebench tracking list`` shows pending and set-aside journals, ``tracking retry ID`` / ``tracking drop ID``
replays or deletes one.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import socket
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np

JOURNAL_DIR = Path(".denoisebench") / "mlflow-journal"
EVENTS = "events.jsonl"
JOURNAL_TAG = "journal_run_id"
#: Tag written last by a replay: a run with the journal's id but without it is a replay killed half-way.
REPLAYED_TAG = "journal_replayed"
#: Set-aside journals live in ``<journal root>-failed/<id>/`` with this file saying why.
REASON = "reason.txt"

LOG = logging.getLogger("denoisebench")


def journal_root(repo_root: Path) -> Path:
    """The journal folder of a repository."""
    return repo_root / JOURNAL_DIR


def failed_root(root: Path) -> Path:
    """Where the journals of ``root`` that could not be replayed are set aside."""
    return root.with_name(root.name + "-failed")


def _now_ms() -> int:
    return int(time.time() * 1000)


class JournalRun:
    """A run recorded to a journal folder; same API as :class:`denoisebench.tracking.TrackedRun`.

    Args:
        root: the journal root (:func:`journal_root`).
        start: the run's start record: ``run_name``, ``tags``, ``group`` (run group or None), ``resumed_from``.
    """

    def __init__(self, root: Path, start: dict[str, Any]) -> None:
        self.run_id = uuid.uuid4().hex
        self.folder = root / self.run_id
        self.folder.mkdir(parents=True)
        self._params: dict[str, str] = {}
        self._write({"op": "start", "pid": os.getpid(), "host": socket.gethostname(), **start})

    def _write(self, event: dict[str, Any]) -> None:
        with open(self.folder / EVENTS, "a", encoding="utf-8") as fh:
            fh.write(json.dumps({"time": _now_ms(), **event}, default=str) + "\n")

    def log_metrics(self, metrics: dict[str, float], step: int | None = None) -> None:
        """Record numeric metrics at ``step`` (None values are skipped)."""
        values = {key: float(value) for key, value in metrics.items() if value is not None}
        if values:
            self._write({"op": "metrics", "step": int(step or 0), "values": values})

    def log_params(self, params: dict[str, Any]) -> None:
        """Record (flattened) params; a key already recorded keeps its first value, as MLflow does."""
        from denoisebench.tracking import flatten_params

        new = {k: v for k, v in flatten_params(params).items() if k not in self._params}
        self._params.update(new)
        if new:
            self._write({"op": "params", "values": new})

    def log_image(self, image: np.ndarray, name: str) -> None:
        """Save an (H, W, C) float image in [0, 1] as a PNG beside the journal (logged as ``images/<name>.png``)."""
        from denoisebench.imageio import write_image

        file = self.folder / "files" / "images" / f"{name}.png"
        file.parent.mkdir(parents=True, exist_ok=True)
        write_image(file, np.asarray(image))
        self._write({"op": "artifact", "file": file.relative_to(self.folder).as_posix(), "artifact_path": "images"})

    def log_artifact(self, path: str | os.PathLike[str], artifact_path: str | None = None) -> None:
        """Copy a local file beside the journal (logged under ``artifact_path``)."""
        target = self.folder / "files" / (artifact_path or "") / Path(path).name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, target)
        self._write({"op": "artifact", "file": target.relative_to(self.folder).as_posix(),
                     "artifact_path": artifact_path})

    def set_tags(self, tags: dict[str, Any]) -> None:
        """Record tags (None values are skipped)."""
        values = {key: str(value) for key, value in tags.items() if value is not None}
        if values:
            self._write({"op": "tags", "values": values})

    def log_dataset(self, name: str, digest: str, source: str, context: str,
                    profile: dict[str, Any] | None = None) -> None:
        """Record a dataset input."""
        self._write({"op": "dataset", "name": name, "digest": digest, "source": source, "context": context,
                     "profile": profile})

    def end(self, status: str) -> None:
        """Record the run's end; the journal is complete from here on."""
        self._write({"op": "end", "status": status})


def _read_events(folder: Path) -> list[dict[str, Any]]:
    lines = (folder / EVENTS).read_text(encoding="utf-8").splitlines()
    events = []
    for line in lines:
        try:
            events.append(json.loads(line))
        except json.JSONDecodeError:  # a line cut by a killed process: the events before it stand
            break
    return events


def _process_alive(start: dict[str, Any]) -> bool:
    """Whether the process that wrote a journal may still be writing it (same host, pid alive)."""
    if start.get("host") != socket.gethostname():
        return False
    try:
        os.kill(int(start["pid"]), 0)
    except (OSError, ValueError, KeyError):
        return False
    return True


def pending(root: Path) -> list[Path]:
    """Journal folders under ``root`` (oldest first)."""
    if not root.is_dir():
        return []
    folders = [p for p in root.iterdir() if (p / EVENTS).is_file()]
    return sorted(folders, key=lambda p: (p / EVENTS).stat().st_mtime_ns)


def flush_journals(root: Path, client: Any, experiment_id: str) -> int:
    """Replay every complete journal under ``root`` into MLflow (oldest first) and delete it; return how many.

    A journal without an ``end`` record is replayed (as KILLED) only once its process is gone; one that cannot be
    replayed is set aside (:func:`set_aside`) and the others go on.
    """
    from denoisebench.locks import exclusive

    done = 0
    replayed: dict[str, str] = {}
    with exclusive(root.with_name(root.name + ".lock"), "replaying the MLflow journal"):
        for folder in pending(root):
            events = _read_events(folder)
            if not events or events[0].get("op") != "start":
                shutil.rmtree(folder, ignore_errors=True)
                continue
            if events[-1].get("op") != "end" and _process_alive(events[0]):
                continue
            try:
                replayed[folder.name] = _replay_once(folder, events, client, experiment_id, replayed)
            except Exception as exc:  # noqa: BLE001 - any failure of one journal must not block the others
                set_aside(folder, f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}")
                continue
            shutil.rmtree(folder, ignore_errors=True)
            done += 1
    return done


def set_aside(folder: Path, reason: str) -> Path:
    """Move a journal that cannot be replayed out of the way (with ``reason.txt``) and say so in one line."""
    target = failed_root(folder.parent) / folder.name
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(target, ignore_errors=True)
    os.replace(folder, target)
    (target / REASON).write_text(reason + "\n", encoding="utf-8")
    LOG.warning("MLflow journal %s not replayed (%s); set aside in %s: `denoisebench tracking retry %s` replays it, "
                "`denoisebench tracking drop %s` deletes it", folder.name, reason, target, folder.name, folder.name)
    return target


def missing_artifacts(folder: Path, events: list[dict[str, Any]]) -> list[str]:
    """Artifact files a journal refers to that are not beside it."""
    return [e["file"] for e in events if e.get("op") == "artifact" and not (folder / e["file"]).is_file()]


def _replay_once(folder: Path, events: list[dict[str, Any]], client: Any, experiment_id: str,
                 replayed: dict[str, str]) -> str:
    """The MLflow id of the journal's one run: an earlier complete replay's, else a new replay (after deleting the
    runs of replays killed half-way)."""
    missing = missing_artifacts(folder, events)
    if missing:
        raise FileNotFoundError(f"artifact file {missing[0]} of the journal is missing")
    earlier = client.search_runs([experiment_id], filter_string=f"tags.{JOURNAL_TAG} = '{folder.name}'")
    complete = [r.info.run_id for r in earlier if r.data.tags.get(REPLAYED_TAG) == "1"]
    for run in earlier:
        if run.info.run_id not in complete[:1]:
            client.delete_run(run.info.run_id)
    if complete:
        return complete[0]
    run_id = None
    try:
        run_id = _replay(folder, events, client, experiment_id, replayed)
    except Exception:
        for run in client.search_runs([experiment_id], filter_string=f"tags.{JOURNAL_TAG} = '{folder.name}'"):
            client.delete_run(run.info.run_id)  # no half-replayed run stays behind
        raise
    client.set_tag(run_id, REPLAYED_TAG, "1")
    return run_id


def retry(root: Path, journal_id: str) -> Path:
    """Move a set-aside journal back into ``root`` (replayed by the next flush)."""
    source = failed_root(root) / journal_id
    if not source.is_dir():
        raise _unknown(root, journal_id)
    (source / REASON).unlink(missing_ok=True)
    root.mkdir(parents=True, exist_ok=True)
    os.replace(source, root / journal_id)
    return root / journal_id


def drop(root: Path, journal_id: str) -> None:
    """Delete a set-aside journal (its run is never recorded)."""
    source = failed_root(root) / journal_id
    if not source.is_dir():
        raise _unknown(root, journal_id)
    shutil.rmtree(source)


def set_aside_journals(root: Path) -> list[tuple[str, str]]:
    """``(id, reason)`` of every set-aside journal."""
    folder = failed_root(root)
    if not folder.is_dir():
        return []
    return [(p.name, (p / REASON).read_text(encoding="utf-8").strip() if (p / REASON).is_file() else "")
            for p in sorted(folder.iterdir()) if p.is_dir()]


def describe(folder: Path) -> str:
    """One line about a pending journal: its run name and whether it is complete, still written or abandoned."""
    events = _read_events(folder)
    if not events or events[0].get("op") != "start":
        return "empty (deleted by the next flush)"
    state = ("complete" if events[-1].get("op") == "end" else
             f"being written by process {events[0].get('pid')}" if _process_alive(events[0]) else
             "abandoned by its process (replayed as KILLED)")
    return f"{events[0].get('run_name')}: {state}"


def _unknown(root: Path, journal_id: str) -> Exception:
    from denoisebench.errors import ConfigError

    known = [name for name, _ in set_aside_journals(root)]
    return ConfigError(f"no set-aside MLflow journal {journal_id!r} in {failed_root(root)}; set aside: "
                       f"{', '.join(known) or 'none'} (see `denoisebench tracking list`)")


def _mlflow_id(journal_id: str, client: Any, experiment_id: str, replayed: dict[str, str]) -> str | None:
    """The MLflow id of a run recorded under ``journal_id`` (replayed now or earlier), else None."""
    if journal_id in replayed:
        return replayed[journal_id]
    found = client.search_runs([experiment_id], filter_string=f"tags.{JOURNAL_TAG} = '{journal_id}'", max_results=1)
    return found[0].info.run_id if found else None


def _replay(folder: Path, events: list[dict[str, Any]], client: Any, experiment_id: str,
            replayed: dict[str, str]) -> str:
    from mlflow.entities import Metric

    from denoisebench.tracking import PARENT_TAG, TrackedRun, group_parent

    start = events[0]
    tags = dict(start.get("tags") or {})
    group = start.get("group")
    if group:
        tags[PARENT_TAG] = group_parent(client, experiment_id, group)
    tags[JOURNAL_TAG] = folder.name
    run = TrackedRun(client, client.create_run(experiment_id, run_name=start.get("run_name"), start_time=start["time"],
                                               tags={k: str(v) for k, v in tags.items() if v is not None}).info.run_id)
    resumed = start.get("resumed_from")
    if resumed:  # as a live resumed run: tagged, and holding its predecessor's curve up to the resume step
        previous = _mlflow_id(resumed[0], client, experiment_id, replayed)
        run.set_tags({"resumed_from": previous or resumed[0], "resumed_from_step": resumed[1]})
        if previous:
            run.copy_metrics(previous, int(resumed[1]))
    metrics: list[Any] = []  # logged with the times they were recorded (TrackedRun.log_metrics stamps "now")
    status, end_time = "KILLED", events[-1]["time"]
    for event in events[1:]:
        op = event["op"]
        if op == "metrics":
            metrics += [Metric(key, value, event["time"], event["step"]) for key, value in event["values"].items()]
        elif op == "params":
            run.log_params(event["values"])
        elif op == "tags":
            run.set_tags(event["values"])
        elif op == "dataset":
            run.log_dataset(event["name"], event["digest"], event["source"], event["context"], event.get("profile"))
        elif op == "artifact":
            run.log_artifact(folder / event["file"], event.get("artifact_path"))
        elif op == "end":
            status = event["status"]
    run_id = run.run_id
    for first in range(0, len(metrics), 1000):  # MLflow's per-batch metric limit
        client.log_batch(run_id, metrics=metrics[first : first + 1000])
    client.set_terminated(run_id, status=status, end_time=end_time)
    if group:
        client.set_terminated(tags[PARENT_TAG], status=status, end_time=end_time)
    return run_id

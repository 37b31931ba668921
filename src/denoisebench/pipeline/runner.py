"""The per-entry incremental runner shared by the ``train``, ``predict`` and ``score`` stages.

DVC reruns a stage when any of its dependencies changed; the stage then decides per entry. An entry is rebuilt
when it has no :class:`~.record.Record`, when one of its declared inputs changed, when a project module its work ran
through changed (:mod:`.depfile`), when an output file is missing or its content differs from the record (a
truncated model, an edited metrics file), or when a force token for it changed (params ``force``). Each rebuilt
entry works in a staging folder (``.denoisebench/staging/<stage>/<entry>-<inputs digest>``), in a forked child
process by default (so its depfile holds exactly the modules its work imported), then its outputs are published
by atomic renames, the record last: an interrupted stage leaves each entry either complete or as it was, and a
rerun resumes the interrupted entry (its staging folder is kept) and skips the finished ones.
"""

from __future__ import annotations

import json
import logging
import multiprocessing
import os
import shutil
import subprocess
import sys
import tempfile
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from denoisebench import registry
from denoisebench.errors import ConfigError, DenoiseBenchError, format_error
from denoisebench.mirror import state_root
from denoisebench.pipeline.depfile import changed_modules, module_file, modules_used
from denoisebench.pipeline.record import (
    RECORD_FILE, Record, canonical, changed_inputs, digest, read_record, tree_digests,
)

LOG = logging.getLogger("denoisebench")
#: Params key of the force tokens: ``force: {<stage>: <token> | {<entry>: <token>, "*": <token>}}``.
FORCE_KEY = "force"


@dataclass(frozen=True)
class Output:
    """One output of every entry: ``<root>/<entry><suffix>`` (a folder when ``suffix`` is empty)."""

    name: str
    root: Path
    suffix: str = ""

    def path(self, entry: str) -> Path:
        return self.root / f"{entry}{self.suffix}"


@dataclass
class WorkResult:
    """What an entry's work reports: the modules it ran through (filled by the runner for a forked child) and
    anything the stage keeps in the record (``extra``)."""

    modules: dict[str, str] | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class EntryStep(ABC):
    """One stage's per-entry work; the runner does the rest (staleness, staging, publishing, records, status)."""

    stage: ClassVar[str]
    #: Run each entry's work in a forked child (exact depfile); False when ``work`` starts its own process.
    forked: ClassVar[bool] = True
    #: The work writes its outputs in place (emptied first; the record, written last, marks them complete)
    #: instead of into a staging folder: for work whose output paths are fixed (the paper stages).
    in_place: ClassVar[bool] = False
    #: Every folder/file in the output roots is an entry of this step (so dropped entries are removed); False
    #: for a step that shares its roots with others (the paper stages share ``reports/paper_<NNN>/``).
    owns_roots: ClassVar[bool] = True

    def __init__(self, params: dict[str, Any], outputs: tuple[Output, ...], repo_root: Path | None = None) -> None:
        self.params = params
        self.outputs = outputs  # the first is a folder and holds the record
        self.repo_root = (repo_root or Path.cwd()).resolve()

    @abstractmethod
    def entries(self) -> list[str]:
        """The entries this stage builds, in order."""

    @abstractmethod
    def inputs(self, entry: str) -> dict[str, Any]:
        """Everything declared that the entry's outputs are a function of (JSON-able; no modification times)."""

    @abstractmethod
    def work(self, entry: str, staged: dict[str, Path]) -> WorkResult:
        """Build the entry's outputs at ``staged[name]`` (each :class:`Output`'s staged path)."""

    def own_paper(self, entry: str) -> str | None:
        """The paper package whose code is the entry's own (its modules always count in the depfile)."""
        return None

    def reset(self, entry: str) -> None:
        """Forget resumable state before an entry is rebuilt from scratch (e.g. training checkpoints)."""

    # -- records -------------------------------------------------------------------------------------------------
    def record_path(self, entry: str) -> Path:
        return self.outputs[0].path(entry) / RECORD_FILE

    def current_inputs(self, entry: str) -> dict[str, Any]:
        """:meth:`inputs` plus the entry's force token, as plain JSON."""
        inputs = dict(self.inputs(entry))
        token = force_token(self.params, self.stage, entry)
        if token is not None:
            inputs["force"] = token
        return canonical(inputs)

    def stale_reasons(self, entry: str) -> list[str]:
        """Why the entry must be rebuilt (empty when it is current)."""
        record = read_record(self.record_path(entry))
        if record is None:
            return ["no build record (never built, or interrupted)"]
        reasons = [f"input changed: {name}" for name in changed_inputs(record.inputs, self.current_inputs(entry))]
        reasons += [f"source changed: {self._describe_module(key)}"
                    for key in changed_modules(record.modules, self.repo_root)]
        now = tree_digests({out.path(entry): out.path(entry) for out in self.outputs})
        recorded = {Path(k).as_posix(): v for k, v in record.outputs.items()}
        for name in sorted(set(recorded) | set(now)):
            if name not in now:
                reasons.append(f"output missing: {name}")
            elif name not in recorded:
                reasons.append(f"output not in the record: {name}")
            elif now[name] != recorded[name]:
                reasons.append(f"output content differs from the record: {name}")
        return reasons

    def _describe_module(self, key: str) -> str:
        path = module_file(key, self.repo_root)
        return path.relative_to(self.repo_root).as_posix() if path.is_relative_to(self.repo_root) else str(path)

    # -- staging and publishing ----------------------------------------------------------------------------------
    def staging_dir(self, entry: str, inputs_digest: str) -> Path:
        return state_root() / "staging" / self.stage / f"{entry}-{inputs_digest[:16]}"

    def staged_paths(self, staging: Path, entry: str) -> dict[str, Path]:
        if self.in_place:
            return {out.name: out.path(entry) for out in self.outputs}
        return {out.name: staging / out.name / out.path(entry).name for out in self.outputs}

    def publish(self, entry: str, staged: dict[str, Path], record: Record) -> None:
        """Move every staged output into place (atomic renames), the record-holding folder last."""
        record.write(staged[self.outputs[0].name] / RECORD_FILE)
        if self.in_place:
            return
        for out in (*self.outputs[1:], self.outputs[0]):
            replace_path(staged[out.name], out.path(entry))

    def remove_stale_entries(self) -> list[str]:
        """Delete the outputs of entries this stage no longer builds (the outputs persist across runs)."""
        wanted = set(self.entries())
        found: set[str] = set()
        for out in self.outputs:
            if out.root.is_dir():
                found |= {p.name[: len(p.name) - len(out.suffix)] if out.suffix else p.name
                          for p in out.root.iterdir() if not p.name.startswith(".")
                          and (p.is_dir() if not out.suffix else p.name.endswith(out.suffix))}
        for name in sorted(found - wanted):
            for out in self.outputs:
                remove_path(out.path(name))
        for out in self.outputs:  # folders a killed publish left beside the outputs (``.<name>.<random>.old``)
            for leftover in out.root.glob(".*.old") if out.root.is_dir() else ():
                remove_path(leftover)
        return sorted(found - wanted)


def force_token(params: dict[str, Any], stage: str, entry: str) -> Any:
    """The force token of ``entry`` in ``stage`` (params ``force.<stage>``: one token for every entry, or a mapping
    of entry names, ``"*"`` for every entry); None when none is set."""
    spec = (params.get(FORCE_KEY) or {}).get(stage)
    if spec is None or isinstance(spec, (int, float, str)):
        return spec
    if not isinstance(spec, dict):
        raise ConfigError(f"params.yaml: {FORCE_KEY}.{stage} must be a token (a number or text) or a mapping of "
                          f"entry names to tokens, got {spec!r}")
    return spec.get(entry, spec.get("*"))


def replace_path(source: Path, target: Path) -> None:
    """Rename ``source`` onto ``target`` (a file, or a folder replaced whole: the old one renamed aside first)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    if source.is_dir() and target.exists():
        aside = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".old", dir=target.parent))
        os.replace(target, aside / target.name)
        os.replace(source, target)
        shutil.rmtree(aside)
    elif source.exists():
        os.replace(source, target)
    else:  # the work wrote nothing for this output
        remove_path(target)


def remove_path(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)


def git_revision(repo_root: Path) -> str:
    """The commit of the code that runs, with ``-dirty`` when ``src/`` or ``stages/`` differ from it."""
    try:
        rev = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo_root, capture_output=True, text=True,
                             check=True).stdout.strip()
        dirty = subprocess.run(["git", "diff", "--quiet", "HEAD", "--", "src", "stages"], cwd=repo_root,
                               capture_output=True).returncode != 0
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return rev + ("-dirty" if dirty else "")


def _child(step: EntryStep, entry: str, staged: dict[str, Path], result_path: Path) -> None:
    """Body of a forked child: the work, then its depfile, written as JSON; known errors end in one line."""
    registry.LOOKED_UP.clear()  # the parent's lookups (every entry's method, to decide staleness) are not this entry's
    try:
        result = step.work(entry, staged)
        modules = result.modules if result.modules is not None else modules_used(step.own_paper(entry),
                                                                                   step.repo_root)
        result_path.write_text(json.dumps({"modules": modules, "extra": result.extra}), encoding="utf-8")
    except DenoiseBenchError as exc:
        print(format_error(exc), file=sys.stderr)
        os._exit(2)
    except BaseException:  # a bug: keep its traceback
        import traceback

        traceback.print_exc()
        os._exit(1)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def run_isolated(step: EntryStep, entry: str, staged: dict[str, Path], staging: Path) -> WorkResult:
    """Run the entry's work in a forked child (or in this process for a step that starts its own)."""
    if not step.forked:
        return step.work(entry, staged)
    result_path = staging / ".result.json"
    result_path.unlink(missing_ok=True)
    sys.stdout.flush()
    sys.stderr.flush()
    child = multiprocessing.get_context("fork").Process(target=_child, args=(step, entry, staged, result_path))
    child.start()
    child.join()
    if child.exitcode != 0 or not result_path.is_file():
        raise EntryFailed(entry, child.exitcode or 1)
    data = json.loads(result_path.read_text(encoding="utf-8"))
    return WorkResult(data["modules"], data["extra"])


class EntryFailed(Exception):
    """An entry's work failed (its message or traceback is already on stderr)."""

    def __init__(self, entry: str, code: int) -> None:
        super().__init__(f"{entry} failed (exit {code})")
        self.entry, self.code = entry, code


@dataclass
class StageReport:
    """What one run of a stage did."""

    built: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)


def build_entry(step: EntryStep, entry: str, reasons: list[str], revision: str) -> None:
    """Rebuild one entry in its staging folder and publish it with its record."""
    inputs = step.current_inputs(entry)
    inputs_digest = digest(inputs)
    staging = step.staging_dir(entry, inputs_digest)
    for other in staging.parent.glob(f"{entry}-*"):  # staging of other inputs: abandoned
        if other != staging:
            shutil.rmtree(other, ignore_errors=True)
    if not staging.is_dir():  # not an interrupted build of these inputs: start from scratch
        step.reset(entry)
    staging.mkdir(parents=True, exist_ok=True)
    staged = step.staged_paths(staging, entry)
    if step.in_place:
        for path in staged.values():
            remove_path(path)
    for out in step.outputs:
        (staged[out.name] if not out.suffix else staged[out.name].parent).mkdir(parents=True, exist_ok=True)
    LOG.info("%s %s: %s", step.stage, entry, "; ".join(reasons))
    result = run_isolated(step, entry, staged, staging)
    outputs = tree_digests({staged[out.name]: out.path(entry) for out in step.outputs})
    record = Record(entry=entry, stage=step.stage, inputs=inputs, modules=result.modules or {}, outputs=outputs,
                    extra=result.extra, revision=revision)
    step.publish(entry, staged, record)
    shutil.rmtree(staging, ignore_errors=True)


def run_step(step: EntryStep, only: list[str] | None = None) -> StageReport:
    """Rebuild every stale entry of ``step`` (or of ``only``), in order; raise :class:`EntryFailed` on the first
    failure (the entries built before it keep their records)."""
    report = StageReport()
    if not only and step.owns_roots:
        report.removed = step.remove_stale_entries()
        for name in report.removed:
            LOG.info("removed the %s outputs of %s (no longer an entry of params.yaml)", step.stage, name)
    revision = git_revision(step.repo_root)
    for entry in only or step.entries():
        reasons = step.stale_reasons(entry)
        if not reasons:
            report.kept.append(entry)
            continue
        build_entry(step, entry, reasons, revision)
        report.built.append(entry)
    LOG.info("%s: rebuilt %d entries, %d current", step.stage, len(report.built), len(report.kept))
    return report


def run_stage_step(step: EntryStep, only: list[str] | None = None) -> int:
    """:func:`run_step` for a stage script: the exit status of the first failed entry (0 when all succeeded)."""
    try:
        run_step(step, only)
    except EntryFailed as failed:
        LOG.error("%s of %s failed (exit %d); the entries finished before it are kept and skipped on rerun",
                  step.stage, failed.entry, failed.code)
        return failed.code
    return 0

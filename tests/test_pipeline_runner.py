"""The per-entry runner shared by train, predict, score and the paper stages (``denoisebench.pipeline``), on a toy
step: what makes an entry stale (no record, changed input, changed source, damaged output, force token), staging
and publishing, resuming an interrupted build, removing dropped entries, and the depfile's rule for paper
packages."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, ClassVar

import pytest

from denoisebench import registry
from denoisebench.pipeline import depfile
from denoisebench.pipeline.record import RECORD_FILE, read_record
from denoisebench.pipeline.runner import EntryFailed, EntryStep, Output, WorkResult, force_token, run_step


class ToyStep(EntryStep):
    """Writes ``<out>/<entry>/value.txt`` (the entry's input value) and ``<side>/<entry>.json``."""

    stage: ClassVar[str] = "toy"

    def __init__(self, tmp: Path, values: dict[str, int], params: dict[str, Any] | None = None,
                 fail: str | None = None) -> None:
        super().__init__(params or {}, (Output("out", tmp / "out"), Output("side", tmp / "side", ".json")),
                         repo_root=tmp)
        self.values, self.fail, self.resets, self.log = values, fail, [], tmp / "work.log"

    def entries(self) -> list[str]:
        return list(self.values)

    def inputs(self, entry: str) -> dict[str, Any]:
        return {"value": self.values[entry]}

    def reset(self, entry: str) -> None:
        self.resets.append(entry)

    def work(self, entry: str, staged: dict[str, Path]) -> WorkResult:
        with self.log.open("a") as log:  # the child appends: the parent counts the builds
            log.write(entry + "\n")
        if entry == self.fail:
            raise RuntimeError("boom")
        (staged["out"] / "value.txt").write_text(str(self.values[entry]))
        staged["side"].write_text(json.dumps({"entry": entry}))
        return WorkResult(extra={"pid": os.getpid()})


def builds(step: ToyStep) -> list[str]:
    return step.log.read_text().split() if step.log.exists() else []


@pytest.fixture
def tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("DENOISEBENCH_ROOT", str(tmp_path))  # staging under tmp_path/.denoisebench
    monkeypatch.delenv("DVC_ROOT", raising=False)
    return tmp_path


def test_builds_once_then_keeps_current_entries_with_a_record(tmp: Path) -> None:
    step = ToyStep(tmp, {"a": 1, "b": 2})
    assert run_step(step).built == ["a", "b"]
    assert (tmp / "out" / "a" / "value.txt").read_text() == "1"
    record = read_record(tmp / "out" / "a" / RECORD_FILE)
    assert record is not None and record.inputs == {"value": 1} and record.extra["pid"] != os.getpid()
    assert sorted(record.outputs) == [(tmp / "out" / "a" / "value.txt").as_posix(), (tmp / "side" / "a.json").as_posix()]
    assert any(key.startswith("denoisebench.") for key in record.modules)  # the child's depfile
    assert "denoisebench.pipeline.runner" not in record.modules  # bookkeeping: never what an output contains
    assert run_step(step).kept == ["a", "b"] and builds(step) == ["a", "b"]
    assert not list((tmp / ".denoisebench" / "staging" / "toy").iterdir())  # staging removed after publishing


def test_changed_input_rebuilds_that_entry_only_and_starts_over(tmp: Path) -> None:
    run_step(ToyStep(tmp, {"a": 1, "b": 2}))
    step = ToyStep(tmp, {"a": 1, "b": 3})
    assert step.stale_reasons("b") == ["input changed: value"] and step.stale_reasons("a") == []
    assert run_step(step).built == ["b"] and step.resets == ["b"]
    assert (tmp / "out" / "b" / "value.txt").read_text() == "3"


def test_damaged_or_missing_outputs_are_rebuilt_and_mtimes_do_not_matter(tmp: Path) -> None:
    step = ToyStep(tmp, {"a": 1, "b": 2})
    run_step(step)
    for file in (tmp / "out").rglob("*"):
        os.utime(file, (1, 1))  # a checkout of identical files: nothing to do
    assert [step.stale_reasons(e) for e in "ab"] == [[], []]
    (tmp / "out" / "a" / "value.txt").write_text("99")
    (tmp / "side" / "b.json").unlink()
    assert step.stale_reasons("a") == [f"output content differs from the record: {(tmp / 'out/a/value.txt').as_posix()}"]
    assert step.stale_reasons("b") == [f"output missing: {(tmp / 'side/b.json').as_posix()}"]
    assert run_step(step).built == ["a", "b"]
    assert (tmp / "out" / "a" / "value.txt").read_text() == "1" and (tmp / "side" / "b.json").is_file()


def test_changed_source_of_a_module_the_entry_ran_rebuilds_it(tmp: Path) -> None:
    module = tmp / "pkg.py"
    module.write_text("X = 1\n")
    step = ToyStep(tmp, {"a": 1})
    run_step(step)
    record_path = tmp / "out" / "a" / RECORD_FILE
    data = json.loads(record_path.read_text())
    data["modules"]["file:pkg.py"] = depfile.source_sha256(module)  # as if the work had run pkg.py
    record_path.write_text(json.dumps(data))
    assert step.stale_reasons("a") == []
    module.write_text("X = 2\n")
    depfile.current_sha256.cache_clear()
    assert step.stale_reasons("a") == ["source changed: pkg.py"]


def test_force_token_rebuilds_once_per_new_value(tmp: Path) -> None:
    run_step(ToyStep(tmp, {"a": 1, "b": 2}))
    forced = ToyStep(tmp, {"a": 1, "b": 2}, params={"force": {"toy": {"a": 1}}})
    assert run_step(forced).built == ["a"] and run_step(forced).built == []
    every = ToyStep(tmp, {"a": 1, "b": 2}, params={"force": {"toy": 7}})
    assert run_step(every).built == ["a", "b"]
    assert force_token({"force": {"toy": {"*": 3, "b": 4}}}, "toy", "a") == 3


def test_a_failed_entry_leaves_nothing_published_and_the_next_run_resumes_its_staging(tmp: Path) -> None:
    step = ToyStep(tmp, {"a": 1, "b": 2}, fail="b")
    with pytest.raises(EntryFailed, match="b failed"):
        run_step(step)
    assert (tmp / "out" / "a" / RECORD_FILE).is_file() and not (tmp / "out" / "b").exists()
    staging = list((tmp / ".denoisebench" / "staging" / "toy").glob("b-*"))
    assert len(staging) == 1  # kept: an interrupted build of the same inputs resumes in it
    again = ToyStep(tmp, {"a": 1, "b": 2})
    assert run_step(again).built == ["b"] and again.resets == []  # resumed, not started over


def test_entries_dropped_from_params_are_removed(tmp: Path) -> None:
    run_step(ToyStep(tmp, {"a": 1, "b": 2}))
    assert run_step(ToyStep(tmp, {"a": 1})).removed == ["b"]
    assert not (tmp / "out" / "b").exists() and not (tmp / "side" / "b.json").exists()


def test_a_step_sharing_its_output_roots_removes_nothing_of_the_others(tmp: Path) -> None:
    class Shared(ToyStep):
        owns_roots = False

    run_step(ToyStep(tmp, {"a": 1, "b": 2}))
    assert run_step(Shared(tmp, {"a": 1})).removed == [] and (tmp / "out" / "b").is_dir()


def test_depfile_leaves_out_other_papers_imported_only_to_register(monkeypatch: pytest.MonkeyPatch) -> None:
    own, other = "denoisebench.papers.p001_x.method", "denoisebench.papers.p002_y.method"
    monkeypatch.setattr(registry, "LOADER_IMPORTED", {own, other})
    monkeypatch.setattr(registry, "LOOKED_UP", set())
    assert depfile._counts(own, "denoisebench.papers.p001_x") and depfile._counts("denoisebench.metrics", None)
    assert not depfile._counts(other, "denoisebench.papers.p001_x")
    registry.LOOKED_UP.add(other)  # the entry looked up an item p002 registered: it counts
    assert depfile._counts(other, "denoisebench.papers.p001_x")
    assert depfile.module_file("denoisebench.metrics", Path(".")).name == "metrics.py"
    assert depfile.module_file("denoisebench.pipeline", Path(".")).name == "__init__.py"


def test_a_lookup_in_the_stage_process_does_not_count_for_a_forked_entry(tmp: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """The predict stage looks up every entry's method to plan its cells; a forked entry counts only its own
    lookups (else an edit to one paper's method re-predicted every entry)."""
    seen: dict[str, bool] = {}

    class Probe(ToyStep):
        def work(self, entry: str, staged: dict[str, Path]) -> WorkResult:
            seen[entry] = "denoisebench.papers.p002_y.method" in registry.LOOKED_UP
            (tmp / "seen.json").write_text(json.dumps(seen))
            return super().work(entry, staged)

    monkeypatch.setattr(registry, "LOOKED_UP", {"denoisebench.papers.p002_y.method"})  # the parent's lookups
    run_step(Probe(tmp, {"a": 1}))
    assert json.loads((tmp / "seen.json").read_text()) == {"a": False}

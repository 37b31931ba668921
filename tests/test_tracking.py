"""MLflow tracking: store location, no-op mode, runs with params/metrics/tags/images, resumed runs."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest
import torch

from denoisebench import tracking
from denoisebench.models import build_model
from denoisebench.tracking import NullRun, flatten_params, tracked_run, tracking_uri
from denoisebench.training import TrainConfig, train_model
from denoisebench.training.trainer import data_fingerprint, resume_store

torch.set_num_threads(1)


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.setenv("DENOISEBENCH_TRACKING", "live")  # the demo profile's default is deferred
    return uri


def client(uri: str):
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=uri)


def test_tracking_uri_resolution(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:5000")
    assert tracking_uri() == "http://127.0.0.1:5000"
    monkeypatch.delenv("MLFLOW_TRACKING_URI")
    monkeypatch.delenv("DENOISEBENCH_ROOT", raising=False)
    (tmp_path / "repo" / "stages" / "deep").mkdir(parents=True)
    (tmp_path / "repo" / "dvc.yaml").write_text("stages: {}\n")
    monkeypatch.chdir(tmp_path / "repo" / "stages" / "deep")
    root = (tmp_path / "repo").resolve()
    assert tracking_uri() == f"sqlite:///{root}/mlflow.db"
    assert tracking_uri(tmp_path) == f"sqlite:///{tmp_path.resolve()}/mlflow.db"
    monkeypatch.setenv("DENOISEBENCH_ROOT", str(tmp_path / "pinned"))
    assert tracking_uri() == f"sqlite:///{(tmp_path / 'pinned').resolve()}/mlflow.db"
    assert tracking.artifact_root(f"sqlite:///{root}/mlflow.db") == (root / "mlartifacts").as_uri()


def test_flatten_params() -> None:
    assert flatten_params({"a": {"b": 1, "c": [1, 2]}, "d": None}) == {"a.b": "1", "a.c": "[1, 2]", "d": "None"}


@pytest.mark.parametrize("how", ["argument", "env"])
def test_disabled_tracking_is_a_no_op(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, how: str) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'never.db'}")
    if how == "env":
        monkeypatch.setenv("DENOISEBENCH_TRACKING", "0")
    with tracked_run("train", "dncnn", "demo", {"a": 1}, enabled=how != "argument") as run:
        assert isinstance(run, NullRun) and run.run_id is None
        run.log_metrics({"loss": 1.0}, step=1)
        run.log_params({"b": 2})
        run.log_image(np.zeros((4, 4, 3), np.float32), "x")
        run.log_artifact(tmp_path / "missing.txt")
        run.set_tags({"t": 1})
    assert not (tmp_path / "never.db").exists()


def test_run_and_resumed_run(store: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DVC_EXP_NAME", "exp-42")
    params = {"train": {"lr": 0.001, "milestones": [10]}, "seed": 0}
    with tracked_run("train", "dncnn", "demo", params, profile="demo") as run:
        run_id = run.run_id
        run.log_metrics({"loss": 0.5, "lr": 0.001}, step=1)
        run.log_image(np.full((8, 8, 1), 0.5, np.float32), "sample")
        note = tmp_path / "note.txt"
        note.write_text("hello")
        run.log_artifact(note)
    c = client(store)
    got = c.get_run(run_id)
    assert got.info.status == "FINISHED"
    assert got.data.params == {"train.lr": "0.001", "train.milestones": "[10]", "seed": "0"}
    tags = got.data.tags
    assert (tags["stage"], tags["method"], tags["dataset"], tags["profile"], tags["dvc_exp_name"]) == (
        "train", "dncnn", "demo", "demo", "exp-42")
    assert c.get_experiment(got.info.experiment_id).name == "denoisebench"
    artifacts = {a.path for a in c.list_artifacts(run_id)} | {a.path for a in c.list_artifacts(run_id, "images")}
    assert {"note.txt", "images/sample.png"} <= artifacts
    assert Path(store[len("sqlite:///"):]).with_name("mlartifacts").is_dir()  # artifacts beside the store

    with pytest.warns(UserWarning, match="param 'seed' was logged as '0'"), \
            tracked_run("train", "dncnn", "demo", params) as again:
        again.log_params({"seed": 1, "train": {"lr": 0.001}, "extra": "new"})
    got = c.get_run(again.run_id)
    assert got.data.params["seed"] == "0" and got.data.params["extra"] == "new"


def test_resumed_run_is_a_new_linked_run(store: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DVC_EXP_NAME", "exp-1")
    with tracked_run("train", "dncnn", "demo", {"iterations": 4}) as first:
        first.log_metrics({"loss": 0.5}, step=1)
        first.log_metrics({"loss": 0.4}, step=2)
        first.log_metrics({"loss": 0.3}, step=3)  # logged after the last checkpoint (step 2): replayed below
    c = client(store)
    c.update_run(first.run_id, status="RUNNING")  # what a kill -9 leaves behind, with its pipeline run
    first_parent = c.get_run(first.run_id).data.tags["mlflow.parentRunId"]
    c.update_run(first_parent, status="RUNNING")
    monkeypatch.setenv("DVC_EXP_NAME", "exp-2")
    with tracked_run("train", "dncnn", "demo", {"iterations": 8}, resumed_from=(first.run_id, 2)) as second:
        second.log_metrics({"loss": 0.31}, step=3)
    old, new = c.get_run(first.run_id), c.get_run(second.run_id)
    assert second.run_id != first.run_id and old.info.status == "KILLED" and new.info.status == "FINISHED"
    assert c.get_run(first_parent).info.status == "KILLED"
    assert old.data.params == {"iterations": "4"} and new.data.params == {"iterations": "8"}
    assert (new.data.tags["resumed_from"], new.data.tags["resumed_from_step"]) == (first.run_id, "2")
    assert (old.data.tags["dvc_exp_name"], new.data.tags["dvc_exp_name"]) == ("exp-1", "exp-2")
    assert [(m.step, m.value) for m in c.get_metric_history(second.run_id, "loss")] == [(1, 0.5), (2, 0.4),
                                                                                        (3, 0.31)]


def test_failed_block_marks_run_failed(store: str) -> None:
    with pytest.raises(RuntimeError), tracked_run("train", "dncnn", None, {}) as run:
        run_id = run.run_id
        raise RuntimeError("boom")
    assert client(store).get_run(run_id).info.status == "FAILED"


def test_resume_from_unknown_run_still_links(store: str) -> None:
    with pytest.warns(UserWarning, match="not found"), \
            tracked_run("train", "dncnn", None, {"a": 1}, resumed_from=("0" * 32, 5)) as run:
        assert run.run_id != "0" * 32
    got = client(store).get_run(run.run_id)
    assert got.data.params == {"a": "1"} and got.data.tags["resumed_from"] == "0" * 32


class _Noise:
    params: ClassVar[dict[str, object]] = {"name": "awgn", "sigma": 25}

    def apply(self, img, rng):
        return img + 0.1 * rng.standard_normal(img.shape).astype(np.float32)


def test_tracking_records_after_kill_and_extended_schedule(store: str, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """A 2-step run, extended to 6 steps in another DVC experiment and killed at step 5 (checkpoint at 4), then
    resumed in a third: three runs, each with its own params and experiment name, linked, each step once."""
    data = [np.random.default_rng(0).uniform(0, 1, (20, 20, 3)).astype(np.float32)]

    def run(iterations: int, exp: str, callbacks=()):
        monkeypatch.setenv("DVC_EXP_NAME", exp)
        torch.manual_seed(0)
        model = build_model("dncnn", channels=3, depth=3, features=4)
        config = TrainConfig(iterations=iterations, batch_size=2, patch_size=8, log_every=1, checkpoint_every=2,
                             progress=False)
        with resume_store(tmp_path / "store"):
            return train_model(model, data, _Noise(), config, tmp_path / "out", callbacks=callbacks,
                               tracking={"stage": "train", "method": "dncnn", "dataset": "demo",
                                         "dataset_source": "data/raw/demo"})

    def kill_at_5(step: int, logs: dict) -> None:
        if step == 5:
            raise KeyboardInterrupt("simulated kill")

    first = run(2, "exp-a")
    with pytest.raises(KeyboardInterrupt):
        run(6, "exp-b", callbacks=[kill_at_5])
    third = run(6, "exp-c")
    assert third.resumed_from == 4
    c = client(store)
    runs = c.search_runs([c.get_run(first.run_id).info.experiment_id], filter_string="tags.run_kind = 'stage'",
                         order_by=["attributes.start_time ASC"])
    a, b, last = runs
    assert (a.info.run_id, last.info.run_id) == (first.run_id, third.run_id)
    assert (a.info.status, b.info.status, last.info.status) == ("FINISHED", "FAILED", "FINISHED")
    assert [r.data.params["train.iterations"] for r in runs] == ["2", "6", "6"]  # params true for each run
    assert [r.data.tags["dvc_exp_name"] for r in runs] == ["exp-a", "exp-b", "exp-c"]
    assert (b.data.tags["resumed_from"], b.data.tags["resumed_from_step"]) == (a.info.run_id, "2")
    assert (last.data.tags["resumed_from"], last.data.tags["resumed_from_step"]) == (b.info.run_id, "4")
    assert last.data.tags["dvc_exp_names"] == "exp-a,exp-b,exp-c"
    # The killed run logged step 5 before dying; the final run holds the whole curve, each step once.
    assert [m.step for m in c.get_metric_history(b.info.run_id, "loss")] == [1, 2, 3, 4, 5]
    history = c.get_metric_history(last.info.run_id, "loss")
    assert [m.step for m in history] == [1, 2, 3, 4, 5, 6]
    assert [m.value for m in history[:4]] == [m.value for m in c.get_metric_history(b.info.run_id, "loss")[:4]]
    lineage = torch.load(third.model_path, weights_only=True)["summary"]["lineage"]
    assert [(x["run_id"], x["dvc_exp_name"], x["from_step"]) for x in lineage] == [
        (a.info.run_id, "exp-a", 0), (b.info.run_id, "exp-b", 2), (last.info.run_id, "exp-c", 4)]
    inputs = last.inputs.dataset_inputs
    assert [(i.dataset.name, i.tags[0].value) for i in inputs] == [("demo", "training")]
    assert inputs[0].dataset.digest == data_fingerprint(data)[:36] and "data/raw/demo" in inputs[0].dataset.source


def test_runs_of_one_dvc_experiment_share_a_parent(store: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DVC_EXP_NAME", "exp-x")
    monkeypatch.setenv("DVC_EXP_BASELINE_REV", "a" * 40)
    with tracked_run("train", "dncnn", "demo", {}) as train:
        pass
    with pytest.raises(RuntimeError), tracked_run("predict", "dncnn", None, {}) as predict:
        raise RuntimeError("boom")
    monkeypatch.setenv("DVC_EXP_NAME", "exp-y")
    with tracked_run("train", "dncnn", "demo", {}) as other:
        pass
    c = client(store)
    parents = [c.get_run(r.run_id).data.tags["mlflow.parentRunId"] for r in (train, predict, other)]
    assert parents[0] == parents[1] != parents[2]
    parent = c.get_run(parents[0])
    assert parent.info.run_name == "exp-x" and parent.info.status == "FAILED"  # the last child failed
    assert (parent.data.tags["run_kind"], parent.data.tags["run_group"]) == ("pipeline", "exp-x")
    assert c.get_run(train.run_id).data.tags["run_group"] == "exp-x"
    monkeypatch.delenv("DVC_EXP_NAME")
    monkeypatch.setenv("DENOISEBENCH_RUN_GROUP", "sweep-1")
    with tracked_run("score", "dncnn", None, {}) as scored:
        pass
    assert c.get_run(c.get_run(scored.run_id).data.tags["mlflow.parentRunId"]).info.run_name == "sweep-1"


def test_score_logs_each_test_cell_as_an_evaluation_input(store: str, tmp_path: Path) -> None:
    import hashlib
    import json
    from types import SimpleNamespace

    from denoisebench.pipeline.score import log_cell_input

    cell_dir = tmp_path / "noisy" / "kodak24" / "awgn_sigma25"
    cell_dir.mkdir(parents=True)
    (cell_dir / "manifest.json").write_text(json.dumps({"images": [{"id": "a"}, {"id": "b"}]}))
    with tracked_run("score", "bm3d", None, {}) as run:
        log_cell_input(run, tmp_path / "noisy", SimpleNamespace(testset="kodak24", label="awgn_sigma25"))
    (given,) = client(store).get_run(run.run_id).inputs.dataset_inputs
    assert (given.dataset.name, given.tags[0].key, given.tags[0].value) == (
        "kodak24/awgn_sigma25", "mlflow.data.context", "evaluation")
    assert given.dataset.digest == hashlib.sha256((cell_dir / "manifest.json").read_bytes()).hexdigest()[:36]
    assert json.loads(given.dataset.profile) == {"images": 2}


def test_mode_defaults_to_deferred_in_demo_and_the_variable_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DENOISEBENCH_TRACKING", raising=False)
    assert (tracking.tracking_mode(profile="demo"), tracking.tracking_mode(profile="quick")) == ("deferred", "live")
    assert tracking.tracking_mode(enabled=False, profile="quick") == "off"
    for flag, mode in (("0", "off"), ("live", "live"), ("deferred", "deferred"), ("1", "deferred")):
        monkeypatch.setenv("DENOISEBENCH_TRACKING", flag)
        assert tracking.tracking_mode(profile="demo") == mode


def test_deferred_runs_are_replayed_into_the_store_with_everything_they_logged(
        store: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import json
    import os

    from denoisebench.tracking_journal import JOURNAL_TAG, journal_root

    monkeypatch.setenv("DENOISEBENCH_ROOT", str(tmp_path))
    monkeypatch.setenv("DENOISEBENCH_TRACKING", "deferred")
    monkeypatch.setenv("DVC_EXP_NAME", "exp-d")
    with tracked_run("train", "dncnn", "demo", {"train": {"lr": 0.001}}, profile="demo") as first:
        first.log_metrics({"loss": 0.5}, step=1)
        first.log_metrics({"loss": 0.4}, step=2)
        first.log_image(np.full((8, 8, 3), 0.5, np.float32), "sample")
        first.log_dataset("demo", "ab" * 32, "/data/demo", "training", {"images": 3})
    with tracked_run("train", "dncnn", "demo", {"train": {"lr": 0.001}}, resumed_from=(first.run_id, 1)) as second:
        second.log_metrics({"loss": 0.3}, step=3)
    with pytest.raises(RuntimeError), tracked_run("predict", "bm3d", None, {}):
        raise RuntimeError("boom")
    killed = journal_root(tmp_path) / ("f" * 32)  # a journal whose process died before its end record
    killed.mkdir()
    start = {"time": 1, "op": "start", "pid": 2 ** 22 + 12345, "host": os.uname().nodename, "run_name": "x",
             "tags": {"stage": "train"}, "group": None, "resumed_from": None}
    (killed / "events.jsonl").write_text(json.dumps(start) + "\n")
    still_running = journal_root(tmp_path) / ("e" * 32)  # its process (this one) is alive: left for later
    still_running.mkdir()
    (still_running / "events.jsonl").write_text(json.dumps({**start, "pid": os.getpid()}) + "\n")
    c = client(store)
    assert c.search_runs([e.experiment_id for e in c.search_experiments()]) == []  # nothing written yet
    assert tracking.flush_pending() == 4
    experiment = c.get_experiment_by_name("denoisebench").experiment_id
    runs = {r.data.tags[JOURNAL_TAG]: r for r in c.search_runs([experiment]) if JOURNAL_TAG in r.data.tags}
    one, two = runs[first.run_id], runs[second.run_id]
    assert one.info.status == "FINISHED" and one.data.params == {"train.lr": "0.001"}
    assert (one.data.tags["stage"], one.data.tags["profile"], one.data.tags["run_group"]) == ("train", "demo", "exp-d")
    assert [m.value for m in c.get_metric_history(one.info.run_id, "loss")] == [0.5, 0.4]
    assert {a.path for a in c.list_artifacts(one.info.run_id, "images")} == {"images/sample.png"}
    (given,) = one.inputs.dataset_inputs
    assert (given.dataset.name, given.tags[0].value) == ("demo", "training")
    assert two.data.tags["resumed_from"] == one.info.run_id  # linked by MLflow id once both are replayed
    assert [(m.step, m.value) for m in c.get_metric_history(two.info.run_id, "loss")] == [(1, 0.5), (3, 0.3)]
    parent = c.get_run(one.data.tags["mlflow.parentRunId"])
    assert parent.info.run_name == "exp-d" and two.data.tags["mlflow.parentRunId"] == parent.info.run_id
    statuses = sorted(r.info.status for r in runs.values())
    assert statuses == ["FAILED", "FINISHED", "FINISHED", "KILLED"]
    assert [p.name for p in journal_root(tmp_path).iterdir()] == [still_running.name]


def test_processes_opening_a_fresh_sqlite_store_at_once_all_succeed(tmp_path: Path) -> None:
    """Two queued experiments raced in MLflow's schema migration on a fresh store; open_store serialises it."""
    import os
    import subprocess
    import sys
    import time

    uri = f"sqlite:///{tmp_path / 'fresh' / 'mlflow.db'}"
    start_at = time.time() + 8  # every process imports MLflow first, then opens the store at the same moment
    code = ("import sys, time; from denoisebench import tracking; import mlflow; "
            f"time.sleep(max(0.0, {start_at} - time.time())); client, eid = tracking.open_store({uri!r}); "
            "print(eid)")
    env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true"}
    procs = [subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                              text=True) for _ in range(3)]
    outs = [proc.communicate(timeout=300) for proc in procs]
    assert [proc.returncode for proc in procs] == [0, 0, 0], [err[-2000:] for _, err in outs]
    assert len({out.strip() for out, _ in outs}) == 1  # one experiment, created once
    assert (tmp_path / "fresh" / "mlflow.db.lock").is_file()


def test_experiment_opens_on_training_runs_and_runs_carry_their_paper(store: str) -> None:
    """MLflow 3 shows a GenAI overview unless the experiment is a model-training one; ``paper`` filters runs."""
    with tracked_run("score", "liu_separate_s25", None, {}) as own, tracked_run("score", "bm3d", None, {}) as zoo:
        pass
    c = client(store)
    experiment = c.get_experiment_by_name(tracking.EXPERIMENT_NAME)
    assert experiment.tags["mlflow.experimentKind"] == "custom_model_development"
    assert c.get_run(own.run_id).data.tags["paper"] == "semantic_denoise"
    assert c.get_run(zoo.run_id).data.tags["paper"] == "baseline"
    found = c.search_runs([experiment.experiment_id], filter_string="tags.paper = 'semantic_denoise'")
    assert [r.info.run_id for r in found] == [own.run_id]


def test_a_parent_created_for_a_replayed_child_starts_with_it(store: str) -> None:
    c, experiment_id = tracking.open_store(store)
    parent = tracking.group_parent(c, experiment_id, "exp-late", start_time=1_000_000)
    assert c.get_run(parent).info.start_time == 1_000_000


def test_a_parent_of_deferred_runs_starts_before_its_children_and_ends_with_them(
        store: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A `dvc exp run` of the demo profile journals its runs; the parent made at replay time showed -11 s."""
    import time

    monkeypatch.setenv("DENOISEBENCH_ROOT", str(tmp_path))
    monkeypatch.setenv("DENOISEBENCH_TRACKING", "deferred")
    monkeypatch.setenv("DVC_EXP_NAME", "exp-late")
    for method in ("meta_tta", "bm3d"):  # method names: DENOISEBENCH_ROOT has no params.yaml to map entries
        with tracked_run("score", method, None, {}, profile="demo"):
            time.sleep(0.05)
    time.sleep(0.2)  # the replay happens later than both runs
    assert tracking.flush_pending() == 2
    c = client(store)
    experiment = c.get_experiment_by_name("denoisebench").experiment_id
    runs = c.search_runs([experiment], filter_string="tags.run_kind = 'stage'")
    parent = c.get_run(runs[0].data.tags["mlflow.parentRunId"])
    assert parent.info.start_time <= min(r.info.start_time for r in runs)
    assert parent.info.end_time >= max(r.info.end_time for r in runs) > parent.info.start_time
    assert {r.data.tags["paper"] for r in runs} == {"meta_tta", "baseline"}  # tags survive the journal

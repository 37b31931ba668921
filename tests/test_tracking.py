"""MLflow tracking: store location, no-op mode, runs with params/metrics/tags/images, resumed runs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from denoisebench import tracking
from denoisebench.models import build_model
from denoisebench.tracking import NullRun, flatten_params, tracked_run, tracking_uri
from denoisebench.training import TrainConfig, train_model

torch.set_num_threads(1)


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.delenv("DENOISEBENCH_TRACKING", raising=False)
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

    with pytest.warns(UserWarning, match="param 'seed' was logged as '0'"):
        with tracked_run("train", "dncnn", "demo", params, run_id=run_id) as again:
            assert again.run_id == run_id
            again.log_params({"seed": 1, "train": {"lr": 0.001}, "extra": "new"})
            again.log_metrics({"loss": 0.25}, step=2)
    got = c.get_run(run_id)
    assert got.data.params["seed"] == "0" and got.data.params["extra"] == "new"
    assert [(m.step, m.value) for m in c.get_metric_history(run_id, "loss")] == [(1, 0.5), (2, 0.25)]
    assert got.info.status == "FINISHED"


def test_failed_block_marks_run_failed(store: str) -> None:
    with pytest.raises(RuntimeError):
        with tracked_run("train", "dncnn", None, {}) as run:
            run_id = run.run_id
            raise RuntimeError("boom")
    assert client(store).get_run(run_id).info.status == "FAILED"


def test_unknown_run_id_starts_new_run(store: str) -> None:
    with pytest.warns(UserWarning, match="not found"):
        with tracked_run("train", "dncnn", None, {"a": 1}, run_id="0" * 32) as run:
            assert run.run_id != "0" * 32
    assert client(store).get_run(run.run_id).data.params == {"a": "1"}


def test_trainer_resume_keeps_its_mlflow_run(store: str, tmp_path: Path) -> None:
    data = [np.random.default_rng(0).uniform(0, 1, (20, 20, 3)).astype(np.float32)]

    class Noise:
        params = {"name": "awgn", "sigma": 25}

        def apply(self, img, rng):
            return img + 0.1 * rng.standard_normal(img.shape).astype(np.float32)

    def run(iterations: int):
        torch.manual_seed(0)
        model = build_model("dncnn", channels=3, depth=3, features=4)
        config = TrainConfig(iterations=iterations, batch_size=2, patch_size=8, log_every=2, checkpoint_every=2,
                             progress=False)
        return train_model(model, data, Noise(), config, tmp_path / "out",
                           tracking={"stage": "train", "method": "dncnn", "dataset": "demo"})

    first, second = run(2), run(4)
    assert first.run_id and second.run_id == first.run_id and second.resumed_from == 2
    c = client(store)
    assert [m.step for m in c.get_metric_history(first.run_id, "loss")] == [2, 4]
    assert c.get_run(first.run_id).data.params["train.iterations"] == "2"  # params of the first execution kept

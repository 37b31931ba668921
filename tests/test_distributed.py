"""Data-parallel training (DDP under torchrun, gloo on CPU): equal to one process with the same effective batch,
resumable after a hard kill, and the launcher/config pieces around it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from denoisebench.errors import ConfigError
from denoisebench.training import distributed

WORKER = Path(__file__).with_name("ddp_train_worker.py")
SRC = Path(__file__).resolve().parents[1] / "src"


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in (*distributed.TORCHRUN_ENV, distributed.NPROC_ENV)}
    env.update(PYTHONPATH=f"{SRC}{os.pathsep}{env.get('PYTHONPATH', '')}", OMP_NUM_THREADS="1")
    return env


def _single(out: Path, *args: str) -> None:
    """The single-process reference, in this process (no interpreter start-up)."""
    sys.path.insert(0, str(WORKER.parent))
    try:
        import ddp_train_worker
    finally:
        sys.path.remove(str(WORKER.parent))
    threads = torch.get_num_threads()
    try:
        ddp_train_worker.main([str(out), *args])
    finally:
        torch.set_num_threads(threads)


def _run(out: Path, *args: str, nproc: int = 2, check: bool = True) -> subprocess.CompletedProcess:
    cmd = distributed.torchrun_command(nproc, [str(WORKER), str(out), *args])
    done = subprocess.run(cmd, env=_env(), capture_output=True, text=True, timeout=120)
    if check and done.returncode:
        pytest.fail(f"{' '.join(cmd)} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return done


def _max_diff(a: Path, b: Path) -> float:
    sa = torch.load(a / "model.pt", weights_only=True)["model"]
    sb = torch.load(b / "model.pt", weights_only=True)["model"]
    assert sa.keys() == sb.keys()
    return max(float((sa[k].double() - sb[k].double()).abs().max()) for k in sa)


def _summary(path: Path) -> dict:
    return torch.load(path / "model.pt", weights_only=True)["summary"]


def test_two_processes_equal_one_process_with_the_same_effective_batch(tmp_path: Path) -> None:
    """torch noise path, BatchNorm synced across ranks: 2 x 2 patches == 1 x 4 patches."""
    _single(tmp_path / "one", "--batch", "4")
    _run(tmp_path / "two", "--batch", "4")
    one, two = _summary(tmp_path / "one"), _summary(tmp_path / "two")
    assert (one["world_size"], two["world_size"]) == (1, 2)
    assert (two["per_rank_batch"], two["effective_batch"]) == (2, 4)
    assert _max_diff(tmp_path / "one", tmp_path / "two") < 1e-5
    assert two["final_loss"] == pytest.approx(one["final_loss"], rel=1e-5)
    # a different split of the batch is a different run: the comparison can fail
    _single(tmp_path / "half", "--batch", "2")
    assert _max_diff(tmp_path / "one", tmp_path / "half") > 1e-3


def test_killed_two_process_run_resumes_to_the_uninterrupted_result(tmp_path: Path) -> None:
    """numpy noise path; rank 0 is SIGKILLed after step 5 (checkpoint at 4); the rerun resumes from step 4."""
    _single(tmp_path / "ref", "--noise", "speckle", "--iterations", "8")
    died = _run(tmp_path / "ddp", "--noise", "speckle", "--iterations", "8", "--die-at", "5", check=False)
    assert died.returncode != 0 and not (tmp_path / "ddp" / "model.pt").exists()
    assert torch.load(tmp_path / "ddp" / "state.pt", weights_only=True)["step"] == 4
    _run(tmp_path / "ddp", "--noise", "speckle", "--iterations", "8")
    assert _summary(tmp_path / "ddp")["resumed_from"] == 4
    assert _max_diff(tmp_path / "ref", tmp_path / "ddp") < 1e-5


def test_paper000_multitask_loop_runs_data_parallel(tmp_path: Path) -> None:
    """Strategy 1 (min-norm weights from per-task gradients and running losses, averaged over the ranks) through
    DDP; its weight solve amplifies rounding a little, hence the looser tolerance."""
    _single(tmp_path / "one", "--p000", "s1", "--iterations", "4")
    _run(tmp_path / "two", "--p000", "s1", "--iterations", "4")
    assert _max_diff(tmp_path / "one", tmp_path / "two") < 2e-4
    assert _summary(tmp_path / "two")["final_loss"] == pytest.approx(_summary(tmp_path / "one")["final_loss"],
                                                                      rel=1e-5)


def test_paper002_task_cycles_run_data_parallel(tmp_path: Path) -> None:
    """Paper 002's cycles (4 steps over the haze, rain and blur paths; the other decoders sit out, so DDP looks for
    unused parameters): each rank degrades the gathered full batch and keeps its slice. Adam moves parameters whose
    gradient is at rounding level by up to lr, hence the tolerance (measured 3.8e-5; degrading each rank's slice
    with the same stream instead gave 7.2e-3)."""
    _single(tmp_path / "one", "--p002", "--iterations", "4")
    _run(tmp_path / "two", "--p002", "--iterations", "4")
    assert _max_diff(tmp_path / "one", tmp_path / "two") < 2e-4
    assert _summary(tmp_path / "two")["final_loss"] == pytest.approx(_summary(tmp_path / "one")["final_loss"],
                                                                      rel=1e-5)


@pytest.mark.parametrize("method", ["meta_tta", "ridnet_real"])
def test_paper001_loop_runs_data_parallel(tmp_path: Path, method: str) -> None:
    """Paper 001's own loop: MAXL (theta1 pass; mask pass whose look-ahead uses the ranks' mean gradient, measured
    8.6e-7 vs 1.0e-3 without that mean) and MAML meta-batches split by sample (gradients summed; the logged loss is
    the meta-batch's sum), and the RIDNet baseline's L1 steps: 2 processes == 1 with the same batches."""
    _single(tmp_path / "one", "--p001", method)
    _run(tmp_path / "two", "--p001", method)
    assert _max_diff(tmp_path / "one", tmp_path / "two") < 1e-5
    one, two = _summary(tmp_path / "one"), _summary(tmp_path / "two")
    assert two["final_loss"] == pytest.approx(one["final_loss"], rel=1e-5)
    assert (one["world_size"], two["world_size"]) == (1, 2)
    assert two["per_rank_batch"] == ({"s1": 2, "s2": 1} if method == "meta_tta" else {"s2": 1})


def test_paper001_killed_two_process_run_resumes(tmp_path: Path) -> None:
    """Rank 0 SIGKILLed after step 3 (MAML's first meta-batch; checkpoint at step 2, after MAXL): the rerun of the
    two processes resumes from step 2 and ends where one uninterrupted process does."""
    _single(tmp_path / "ref", "--p001", "meta_tta")
    died = _run(tmp_path / "ddp", "--p001", "meta_tta", "--die-at", "3", check=False)
    assert died.returncode != 0 and not (tmp_path / "ddp" / "model.pt").exists()
    _run(tmp_path / "ddp", "--p001", "meta_tta")
    assert _summary(tmp_path / "ddp")["resumed_from"] == 2
    assert _max_diff(tmp_path / "ref", tmp_path / "ddp") < 1e-5


def test_paper001_batches_must_divide_by_the_processes() -> None:
    from denoisebench.papers.p001_meta_tta.schedule import MetaSchedule
    from denoisebench.papers.p001_meta_tta.training import _shards

    two = distributed.Rank(1, 2, 1)
    assert _shards(MetaSchedule(s1_batch=16, s2_batch=2), two) == (slice(8, 16), slice(1, 2))
    with pytest.raises(ConfigError, match="s2_batch=3 .* divisible by the 2 processes"):
        _shards(MetaSchedule(s2_batch=3), two)
    assert _shards(MetaSchedule(s1_batch=3, s2_batch=4), two, stage1=False)[1] == slice(2, 4)
    assert MetaSchedule.from_dict({"nproc": 2}).nproc == 2  # the stage passes nproc with the schedule


def test_relaunch_replaces_the_process_by_torchrun(tmp_path: Path) -> None:
    script = tmp_path / "who.py"
    script.write_text("import os, pathlib, sys\n"
                      "pathlib.Path(sys.argv[1], os.environ['RANK']).write_text(os.environ['WORLD_SIZE'])\n")
    code = ("import sys; from denoisebench.training import distributed as d; "
            f"d.relaunch_under_torchrun(2, [{str(script)!r}, {str(tmp_path)!r}]); print('not relaunched')")
    done = subprocess.run([sys.executable, "-c", code], env=_env(), capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "not relaunched" not in done.stdout
    assert sorted(p.name for p in tmp_path.iterdir() if p.suffix != ".py") == ["0", "1"]
    assert (tmp_path / "1").read_text() == "2"


def test_one_process_is_not_relaunched(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "execv", lambda *a: pytest.fail("execv called"))
    distributed.relaunch_under_torchrun(1, ["x.py"])
    for key, value in zip(distributed.TORCHRUN_ENV, ("0", "0", "2")):
        monkeypatch.setenv(key, value)
    distributed.relaunch_under_torchrun(2, ["x.py"])  # already a torchrun worker


def test_requested_nproc_env_overrides_params(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(distributed.NPROC_ENV, raising=False)
    assert distributed.requested_nproc({}) == 1
    assert distributed.requested_nproc({"nproc": 4}) == 4
    monkeypatch.setenv(distributed.NPROC_ENV, "8")
    assert distributed.requested_nproc({"nproc": 4}) == 8
    monkeypatch.setenv(distributed.NPROC_ENV, "two")
    with pytest.raises(ConfigError, match="DENOISEBENCH_NPROC='two'"):
        distributed.requested_nproc({})
    monkeypatch.delenv(distributed.NPROC_ENV)
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ConfigError, match=r"where\.nproc"):
            distributed.requested_nproc({"nproc": bad}, "where")


def test_shards_are_disjoint_and_cover_the_batch() -> None:
    parts = [distributed.shard(12, distributed.Rank(r, 3, r)) for r in range(3)]
    assert [list(range(12))[p] for p in parts] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 10, 11]]
    with pytest.raises(ConfigError, match="batch_size=10.*divisible by the 4 processes"):
        distributed.shard(10, distributed.Rank(0, 4, 0))


def test_batchnorm_swap_is_undone_and_keeps_the_tensors() -> None:
    from denoisebench.models import build_model

    model = build_model("dncnn", channels=1, depth=3, features=4)
    before = {k: v.data_ptr() for k, v in model.state_dict().items()}
    swapped = distributed.sync_batchnorm(model, distributed.Rank(0, 2, 0), torch.device("cpu"))
    assert swapped and any(isinstance(m, distributed.CPUSyncBatchNorm) for m in model.modules())
    distributed.restore_batchnorm(model, swapped)
    assert not any(isinstance(m, distributed.CPUSyncBatchNorm) for m in model.modules())
    assert {k: v.data_ptr() for k, v in model.state_dict().items()} == before


def test_concurrent_stages_claim_different_gpus(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A process holding GPU 0 (as a running queued experiment would) makes the next claim take GPU 1; a claim
    of more GPUs than are free waits (here: times out); the held GPU is free again once its holder exits."""
    env = {**_env(), distributed.GPUS_ENV: "0,1", distributed.GPU_LOCKS_ENV: str(tmp_path)}
    holder = subprocess.Popen(
        [sys.executable, "-c", "import os, sys, time; from denoisebench.training import distributed as d; "
         "print(d.claim_gpus(1), os.environ['CUDA_VISIBLE_DEVICES'], flush=True); time.sleep(60)"],
        env=env, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "['0'] 0"
        monkeypatch.setenv(distributed.GPUS_ENV, "0,1")
        monkeypatch.setenv(distributed.GPU_LOCKS_ENV, str(tmp_path))
        monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
        with pytest.raises(TimeoutError, match="no 2 free GPU"):
            distributed.claim_gpus(2, poll_s=0.05, timeout_s=0.2)
        assert distributed.claim_gpus(1) == ["1"] and os.environ["CUDA_VISIBLE_DEVICES"] == "1"
    finally:
        holder.kill()
        holder.wait()
    assert distributed.claim_gpus(1, poll_s=0.05, timeout_s=5) == ["0"]  # the killed holder's GPU is free
    with pytest.raises(ConfigError, match="lists 2 GPU"):
        distributed.claim_gpus(3)
    monkeypatch.delenv(distributed.GPUS_ENV)
    assert distributed.claim_gpus(4) == []

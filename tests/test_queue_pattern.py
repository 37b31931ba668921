"""DVC's experiment queue on several GPUs (issue 15, docs/scaling.md): `dvc exp run --queue` twice, then
`dvc queue start -j 2`; each worker pins itself to a GPU through the project's claim (`claim_gpus`, flock files
under the original repository found through `DVC_ROOT`), logs an MLflow run into one absolute SQLite store
(`denoisebench.tracking`, tagged with its `dvc_exp_name`) and writes a DVC-tracked output into one absolute
cache (`dvc cache dir`).

The stage is a tiny script instead of the real training (the full pipeline took 262 s for two experiments), so
what is checked is the pattern itself. To check that claims are exclusive, each experiment holds its GPU until it
sees the other's claim file (the two must overlap), so two claims of the same GPU cannot go unnoticed.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[1]
DVC = str(Path(sys.executable).with_name("dvc"))

#: Seconds one experiment's script waits for the other experiment's claim before it gives up.
OVERLAP_WAIT_S = 45
#: Measured here (2 loaded cores), in seconds after `dvc queue start`, the two experiments running side by side:
#: DVC's executor set-up until the stage's script starts, the script's imports (torch), the MLflow store's
#: creation and the two runs (one process at a time under the store's lock), DVC collecting both experiments
#: (outputs to the cache, experiment commits) until `dvc queue status` shows them done.
MEASURED_S = {"executor set-up": 6, "imports": 2.5, "MLflow store and runs": 10, "DVC collects": 15}
#: Three times the measured total (a heavier load), plus the longest the scripts may wait for each other.
QUEUE_TIMEOUT_S = round(3 * sum(MEASURED_S.values())) + OVERLAP_WAIT_S

STAGE = textwrap.dedent(f'''
    """Queued stage: claim a GPU of $DENOISEBENCH_GPUS, hold it until the other experiment holds one too, log an
    MLflow run, write which GPU it got (a DVC output)."""
    import json, os, sys, time
    from pathlib import Path

    times = {{"start": time.time()}}
    import yaml

    from denoisebench.training import distributed
    from denoisebench.tracking import tracked_run

    label = yaml.safe_load(Path("params.yaml").read_text())["label"]
    root = Path(os.environ["DVC_ROOT"])  # the original repository, also inside the queue's temporary copy
    times["imported"] = time.time()
    claimed = distributed.claim_gpus(1, poll_s=0.2, timeout_s={OVERLAP_WAIT_S})
    claims = root / "claims"
    claims.mkdir(exist_ok=True)
    (claims / label).write_text(json.dumps({{"gpu": claimed, "pid": os.getpid()}}))
    deadline = time.monotonic() + {OVERLAP_WAIT_S}
    while len(list(claims.iterdir())) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    others = sorted(p.name for p in claims.iterdir() if p.name != label)
    times["overlapped"] = time.time()
    with tracked_run(stage="queue_test", method="tiny", dataset=None, params={{"label": label}}) as run:
        run.log_metrics({{"gpu": float(claimed[0])}}, step=1)
    Path("result.json").write_text(json.dumps({{
        "label": label, "gpus": claimed, "cuda_visible_devices": os.environ["CUDA_VISIBLE_DEVICES"],
        "saw_claims_of": others, "run_id": run.run_id, "exp": os.environ.get("DVC_EXP_NAME"),
        "cwd": os.getcwd(), "times": {{**times, "logged": time.time()}}}}))
''')

DVC_YAML = ("stages:\n  claim:\n    cmd: python claim.py\n    deps: [claim.py]\n    params: [label]\n"
            "    outs: [result.json]\n")


def _run(cmd: list[str], cwd: Path, env: dict[str, str], timeout: float = 120) -> str:
    done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    if done.returncode:
        pytest.fail(f"{' '.join(cmd)} failed ({done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return done.stdout


def _queue_processes(repo: Path) -> list[int]:
    """Pids of DVC processes working in ``repo`` (the queue's workers and their stages; started by this test)."""
    pids = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            cwd = os.readlink(proc / "cwd")
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if cwd.startswith(str(repo)) and ("dvc" in cmdline or "claim.py" in cmdline):
            pids.append(int(proc.name))
    return pids


def _stop_queue(repo: Path, env: dict[str, str]) -> None:
    """`dvc queue stop --kill`, then SIGKILL whatever of this repository's queue still runs after 10 s."""
    subprocess.run([DVC, "queue", "stop", "--kill"], cwd=repo, env=env, capture_output=True, timeout=60)
    deadline = time.monotonic() + 10
    while _queue_processes(repo) and time.monotonic() < deadline:
        time.sleep(0.2)
    for pid in _queue_processes(repo):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def _wait_for_queue(repo: Path, env: dict[str, str], names: list[str]) -> str:
    """Poll `dvc queue status` until no experiment is queued or running; on timeout fail with the status and logs."""
    deadline = time.monotonic() + QUEUE_TIMEOUT_S
    status = ""
    while time.monotonic() < deadline:
        status = _run([DVC, "queue", "status"], repo, env)
        rows = [line for line in status.splitlines() if any(name in line for name in names)]
        if len(rows) == len(names) and not any(word in line for line in rows for word in ("Queued", "Running")):
            return status
        time.sleep(1)
    pytest.fail(f"the queue did not finish within {QUEUE_TIMEOUT_S} s; dvc queue status:\n{status}\n"
                f"processes still working in the repository: {_queue_processes(repo)}\n{_logs(repo, env, names)}")


def _logs(repo: Path, env: dict[str, str], names: list[str]) -> str:
    """The tail of `dvc queue logs` of each experiment."""
    return "\n".join(f"--- dvc queue logs {name}:\n"
                     + subprocess.run([DVC, "queue", "logs", name], cwd=repo, env=env, capture_output=True,
                                      text=True, timeout=60).stdout[-2000:] for name in names)


@pytest.mark.slow
def test_queued_experiments_share_gpus_mlflow_store_and_cache(tmp_path: Path) -> None:
    repo, cache, store = tmp_path / "repo", tmp_path / "dvc-cache", tmp_path / "mlflow" / "mlflow.db"
    repo.mkdir()
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
           "PYTHONPATH": os.pathsep.join([str(REPO_ROOT / "src"), os.environ.get("PYTHONPATH", "")]),
           "DENOISEBENCH_GPUS": "0,1", "MLFLOW_TRACKING_URI": f"sqlite:///{store}", "DENOISEBENCH_TRACKING": "live",
           "DVC_NO_ANALYTICS": "1", "MLFLOW_DISABLE_TELEMETRY": "true", "OMP_NUM_THREADS": "1",
           "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.invalid", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@example.invalid"}
    for name in ("DENOISEBENCH_ROOT", "DENOISEBENCH_GPU_LOCKS", "DENOISEBENCH_CHECKPOINTS", "DENOISEBENCH_RUN_GROUP",
                 "DVC_EXP_NAME", "DVC_ROOT", "CUDA_VISIBLE_DEVICES"):
        env.pop(name, None)
    (repo / "claim.py").write_text(STAGE)
    (repo / "dvc.yaml").write_text(DVC_YAML)
    (repo / "params.yaml").write_text("label: base\n")
    (repo / ".gitignore").write_text("/.denoisebench/\n/claims/\n/result.json\n")
    _run(["git", "init", "-q"], repo, env)
    _run([DVC, "init", "-q"], repo, env)
    _run([DVC, "cache", "dir", str(cache)], repo, env)  # one absolute cache, as several clones would share it
    _run(["git", "add", "-A"], repo, env)
    _run(["git", "commit", "-qm", "queue pattern"], repo, env)

    names = []
    for label in ("a", "b"):
        out = _run([DVC, "exp", "run", "--queue", "-S", f"label={label}"], repo, env)
        names.append(out.split("Queued experiment '")[1].split("'")[0])
    started, wall_start = time.monotonic(), time.time()
    try:
        _run([DVC, "queue", "start", "-j", "2"], repo, env)
        status = _wait_for_queue(repo, env, names)
    finally:
        _stop_queue(repo, env)
    elapsed = time.monotonic() - started
    assert not _queue_processes(repo), "a queue worker survived `dvc queue stop --kill`"
    if not all("Success" in line for line in status.splitlines() if any(n in line for n in names)):
        pytest.fail(f"an experiment failed; dvc queue status:\n{status}\n{_logs(repo, env, names)}")

    # each experiment's result.json, read from the one absolute cache through the experiment's dvc.lock
    results = {}
    for ref in _run(["git", "for-each-ref", "--format=%(refname)", "refs/exps"], repo, env).split():
        lock = yaml.safe_load(_run(["git", "show", f"{ref}:dvc.lock"], repo, env))
        md5 = lock["stages"]["claim"]["outs"][0]["md5"]
        blob = cache / "files" / "md5" / md5[:2] / md5[2:]
        assert blob.is_file(), f"{ref}: result.json ({md5}) is not in the shared cache {cache}"
        result = json.loads(blob.read_text())
        results[result["label"]] = result
    assert sorted(results) == ["a", "b"] and sorted(r["exp"] for r in results.values()) == sorted(names)
    assert not (repo / ".dvc" / "cache" / "files").exists()  # nothing went to a per-repository cache
    a, b = results["a"], results["b"]
    # the two held their claims at the same time (each saw the other's), so exclusive claims mean different GPUs
    assert a["saw_claims_of"] == ["b"] and b["saw_claims_of"] == ["a"], (a, b)
    assert sorted(a["gpus"] + b["gpus"]) == ["0", "1"], (a, b)
    assert [a["cuda_visible_devices"], b["cuda_visible_devices"]] == [a["gpus"][0], b["gpus"][0]]
    assert all(".dvc/tmp/exps" in r["cwd"] for r in (a, b))  # they ran in the queue's temporary copies

    with sqlite3.connect(store) as db:  # both runs in the one absolute store, tagged with their experiments
        rows = db.execute("select r.run_uuid, t.value from runs r join tags t on t.run_uuid = r.run_uuid "
                          "where t.key = 'dvc_exp_name' and r.name = 'queue_test-tiny' and r.status = 'FINISHED'"
                          ).fetchall()
    assert sorted(rows) == sorted((r["run_id"], r["exp"]) for r in (a, b))
    for r in (a, b):  # where the time goes (seconds since `dvc queue start`)
        print(r["label"], {k: round(v - wall_start, 1) for k, v in r["times"].items()})
    print(f"queue of 2 experiments: {elapsed:.1f} s from `dvc queue start` to both finished")

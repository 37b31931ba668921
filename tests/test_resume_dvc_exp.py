"""`dvc exp run` resumes an interrupted training from its newest checkpoint (issue 14, item 1).

`dvc exp run` checks out the outputs recorded in dvc.lock before it runs a stage (DVC's experiment executor calls
`checkout(force=True)`), so a `state.pt` inside the `persist: true` output `models/<entry>` is replaced by the
older one of the lock. The trainer therefore keeps its intermediate state in the gitignored resume store
`.denoisebench/checkpoints/<entry>/<config hash>/`, which DVC does not touch.

The test builds a tiny git + DVC repository whose stage trains a tiny DnCNN the way `stages/train.py` does
(same resume store), finishes a 4-step run, then runs `dvc exp run` with a 12-step schedule that is killed with
SIGKILL right after its step-8 checkpoint, reruns the same command, and checks that training resumed from step 8.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

REPO_ROOT = Path(__file__).resolve().parents[1]

STAGE = textwrap.dedent('''
    """Tiny training stage: resumes like stages/train.py (resume store under the repository root)."""
    import json, os, signal, sys
    from pathlib import Path

    import numpy as np
    import torch
    import yaml

    from denoisebench.models import build_model
    from denoisebench.training import TrainConfig, train_model
    from denoisebench.training.trainer import default_store_root, resume_store

    torch.set_num_threads(1)
    kill_after = int(os.environ.get("KILL_AFTER_STEP", "0"))


    class Noise:
        params = {"name": "awgn", "sigma": 25}

        def apply(self, img, rng):
            return img + np.float32(0.1) * rng.standard_normal(img.shape, dtype=np.float32)


    def kill(step, logs):
        if step == kill_after:
            os.kill(os.getpid(), signal.SIGKILL)  # what a crash or `kill -9` does: no cleanup at all


    params = yaml.safe_load(Path("params.yaml").read_text())["train"]
    images = [np.random.default_rng(0).uniform(0, 1, (24, 24, 1)).astype(np.float32)]
    torch.manual_seed(0)
    model = build_model("dncnn", channels=1, depth=3, features=4)
    config = TrainConfig(batch_size=2, patch_size=8, log_every=1, progress=False, **params)
    with resume_store(default_store_root()):
        result = train_model(model, images, Noise(), config, Path("models/tiny"),
                             callbacks=[kill] if kill_after else [])
    Path("models/tiny/summary.json").write_text(json.dumps({"steps": result.steps,
                                                           "resumed_from": result.resumed_from}))
''')

DVC_YAML = textwrap.dedent("""
    stages:
      train:
        cmd: python train.py
        deps: [train.py]
        params: [train]
        outs:
          - models/tiny:
              persist: true
""")


def run(cmd: list[str], cwd: Path, env: dict[str, str], check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    if check and result.returncode != 0:
        pytest.fail(f"{' '.join(cmd)} failed ({result.returncode}):\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return result


def write_params(repo: Path, iterations: int) -> None:
    (repo / "params.yaml").write_text(f"train:\n  iterations: {iterations}\n  checkpoint_every: 2\n")


@pytest.mark.slow
def test_dvc_exp_run_resumes_from_newest_checkpoint_after_kill(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
           "PYTHONPATH": os.pathsep.join([str(REPO_ROOT / "src"), os.environ.get("PYTHONPATH", "")]),
           "DENOISEBENCH_TRACKING": "0", "DVC_NO_ANALYTICS": "1", "OMP_NUM_THREADS": "1", "GIT_AUTHOR_NAME": "t",
           "GIT_AUTHOR_EMAIL": "t@example.invalid", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@example.invalid"}
    for name in ("DENOISEBENCH_ROOT", "DENOISEBENCH_CHECKPOINTS", "DVC_EXP_NAME", "KILL_AFTER_STEP"):
        env.pop(name, None)
    (repo / "train.py").write_text(STAGE)
    (repo / "dvc.yaml").write_text(DVC_YAML)
    (repo / ".gitignore").write_text("/.denoisebench/\n")
    write_params(repo, 4)
    run(["git", "init", "-q"], repo, env)
    run(["dvc", "init", "-q"], repo, env)
    run(["dvc", "repro", "-q"], repo, env)  # a finished 4-step model, recorded in dvc.lock and committed
    run(["git", "add", "-A"], repo, env)
    run(["git", "commit", "-qm", "4-step model"], repo, env)
    state = repo / "models" / "tiny" / "state.pt"
    assert torch.load(state, weights_only=True)["step"] == 4

    extend = ["dvc", "exp", "run", "-S", "train.iterations=12"]
    killed = run(extend, repo, {**env, "KILL_AFTER_STEP": "9"}, check=False)  # killed after the step-8 checkpoint
    assert killed.returncode != 0
    stored = list((repo / ".denoisebench" / "checkpoints" / "tiny").glob("*/state.pt"))
    assert len(stored) == 1 and torch.load(stored[0], weights_only=True)["step"] == 8

    resumed = run(extend, repo, env)
    summary = json.loads((repo / "models" / "tiny" / "summary.json").read_text())
    assert summary == {"steps": 12, "resumed_from": 8}, resumed.stdout + resumed.stderr
    assert torch.load(state, weights_only=True)["step"] == 12
    assert not stored[0].parent.exists()  # a finished run leaves no resume state behind

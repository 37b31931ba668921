"""Results travel between machines through a DVC remote: a finished demo run (download -> synthesize -> train ->
predict -> score of two entries) is pushed to a local-path remote, the repository is cloned afresh elsewhere,
``dvc pull`` fetches the outputs, ``dvc repro`` there runs nothing and every output is byte-identical.

Slow (it runs part of the demo pipeline once): marked ``slow``; see docs/scaling.md for its time.
:func:`roundtrip` takes any finished repository, so the end-to-end test's full demo run can use it too.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import SHARED_DATA

pytestmark = pytest.mark.slow

#: The stages run (with their upstream): one classical and one trained entry, scored.
TARGETS = ["score@noisy", "score_learned@dncnn_gray_s25"]


def _run(cmd: list[str], cwd: Path, env: dict[str, str], timeout: float = 900) -> str:
    done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"{' '.join(cmd)} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout + done.stderr


def _digests(root: Path, rels: list[str]) -> dict[str, str]:
    """sha256 of every file under the given paths (relative names)."""
    out = {}
    for rel in rels:
        base = root / rel
        for path in sorted([base] if base.is_file() else base.rglob("*")):
            if path.is_file():
                out[str(path.relative_to(root))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def stage_outputs(repo: Path, targets: list[str]) -> list[str]:
    """Output paths of the ``targets`` stages and of every stage upstream of them."""
    import networkx as nx
    from dvc.repo import Repo

    with Repo(str(repo)) as dvc_repo:
        graph = dvc_repo.index.graph
        nodes = {stage.name: stage for stage in graph.nodes}  # addressing is relative to the cwd
        stages = set()
        for target in targets:
            stages |= {nodes[target], *nx.descendants(graph, nodes[target])}
        return sorted({out.def_path for stage in stages for out in stage.outs})


def roundtrip(work: Path, env: dict[str, str], targets: list[str], tmp: Path) -> dict[str, str]:
    """Push ``work``'s finished run of ``targets`` to a local remote, clone, pull and repro in the clone; assert
    that nothing ran there and the outputs are byte-identical; return the clone's digests."""
    remote, clone = tmp / "remote", tmp / "clone"
    _run(["dvc", "remote", "add", "-d", "-f", "shared", str(remote)], work, env)
    _run(["git", "add", "-A"], work, env)
    _run(["git", "commit", "-qm", "results", "--allow-empty"], work, env)
    _run(["dvc", "push", "--with-deps", *targets], work, env)
    _run(["git", "clone", "-q", str(work), str(clone)], tmp, env)
    _run(["dvc", "pull", "--with-deps", *targets], clone, env)
    out = _run(["dvc", "repro", *targets], clone, env)
    assert "Running stage" not in out, out[-3000:]
    rels = stage_outputs(work, targets)
    assert any(r.startswith("models/") for r in rels) and any(r.startswith("results/predictions") for r in rels)
    ours, theirs = _digests(work, rels), _digests(clone, rels)
    assert ours == theirs and len(ours) > 10
    return theirs


def test_demo_run_travels_through_a_dvc_remote(tmp_path: Path, repo_root: Path) -> None:
    work = tmp_path / "repo"
    listed = subprocess.run(["git", "ls-files"], cwd=repo_root, capture_output=True, text=True, check=True)
    for rel in listed.stdout.splitlines():
        src = repo_root / rel
        if src.is_file() and not rel.startswith(("results/", "reports/", "models/")) and rel != "dvc.lock":
            (work / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, work / rel)
    params = yaml.safe_load((work / "params.yaml").read_text())
    params["profile"] = "demo"
    (work / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    env = {**os.environ, "DVC_NO_ANALYTICS": "1", "MLFLOW_DISABLE_TELEMETRY": "true", "DENOISEBENCH_TRACKING": "0",
           "DENOISEBENCH_MIRROR": str(SHARED_DATA), "OMP_NUM_THREADS": "1", "GIT_AUTHOR_NAME": "ci",
           "GIT_AUTHOR_EMAIL": "ci@example.invalid", "GIT_COMMITTER_NAME": "ci",
           "GIT_COMMITTER_EMAIL": "ci@example.invalid", "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    for key in ("MLFLOW_TRACKING_URI", "DENOISEBENCH_ROOT", "DENOISEBENCH_NPROC", "DENOISEBENCH_GPUS"):
        env.pop(key, None)
    _run(["git", "init", "-q"], work, env)
    _run(["git", "add", "-A"], work, env)
    _run(["git", "commit", "-qm", "copy"], work, env)
    _run(["dvc", "repro", *TARGETS], work, env)
    digests = roundtrip(work, env, TARGETS, tmp_path)
    assert any(name.startswith("results/metrics/dncnn_gray_s25") for name in digests)

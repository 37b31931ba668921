"""Results travel between machines through a DVC remote: a finished run is pushed to a local-path remote, the
repository is cloned afresh elsewhere, ``dvc pull`` fetches the outputs, ``dvc repro`` there runs nothing and
every output (tables included) is byte-identical.

Used by ``test_pipeline_e2e.py`` on its finished demo run (the round trip itself takes ~20 s; a demo run of its
own cost 95-135 s more).
"""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path


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
    assert {"models", "results/predictions"} <= set(rels)
    ours, theirs = _digests(work, rels), _digests(clone, rels)
    assert ours == theirs and len(ours) > 10
    assert any(name.startswith("models/") and name.endswith("model.pt") for name in theirs)  # trained models came
    return theirs

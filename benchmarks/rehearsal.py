"""Rehearse the GPU user's `dvc exp run -S profile=paper` on this CPU, end to end, at toy size.

    python benchmarks/rehearsal.py                      # scratch clone of HEAD under /tmp, ~20-40 min on 2 cores
    python benchmarks/rehearsal.py --work /tmp/r --keep --out docs/rehearsal.md

What it does:

1. Builds a fixture of every dataset the paper profile needs, in its published layout (same archive names, member
   folders, ``.mat`` keys; :mod:`denoisebench.datasets.fixtures`), and serves them from a local HTTP server.
2. Writes a ``data.sources`` file re-basing each of those sets on the server, with the fixtures' hashes
   (:mod:`denoisebench.sources`: other hashes are accepted only in a rehearsal).
3. Clones the repository's HEAD into a scratch folder with no data mirror beside it (so every dataset really comes
   over HTTP; the released models come from the weights mirror, ``--weights``), and runs there

       dvc exp run -S profile=paper -S rehearsal=true -S data.sources=<file> -S data.weights_mirror=<folder>

   with the clone's own sources on ``PYTHONPATH``. ``rehearsal: true`` (params.yaml) is the one switch that cuts
   sizes and schedule lengths: every training schedule to 2 steps, every cell to one 48 px crop, the paper stages'
   options by their sections' ``rehearsal`` keys. Profile, stages, entries, datasets and code paths are the GPU
   run's: the only other differences are where the data comes from and the device.
4. Prints (and with ``--out`` writes) the wall time of each stage, the entries each stage built, and the first
   error if the run failed. Exit status: the run's.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import quote

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))
STAGE_LINE = re.compile(r"^Running stage '([^']+)'")
ENV = {"DVC_NO_ANALYTICS": "1", "MLFLOW_DISABLE_TELEMETRY": "true", "MPLBACKEND": "Agg"}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--work", type=Path, default=None, help="scratch folder (default: a new one under /tmp)")
    p.add_argument("--keep", action="store_true", help="keep the scratch clone and fixtures afterwards")
    p.add_argument("--out", type=Path, default=None, help="also write the summary here (Markdown)")
    p.add_argument("--images", type=int, default=2, help="images per fixture set (per split)")
    p.add_argument("--weights", type=Path, default=None, help="released-model mirror (default: the one the "
                   "checkout finds, ../shared/weights)")
    p.add_argument("--timeout-s", type=float, default=3 * 3600, help="give up after this many seconds")
    return p.parse_args(argv)


def paper_params() -> dict[str, Any]:
    from denoisebench.config import load_params

    params = load_params(REPO / "params.yaml")
    params.update(profile="paper", rehearsal=True)
    return params


def build_fixtures(params: dict[str, Any], served: Path, images: int) -> dict[str, list[dict[str, Any]]]:
    """Every dataset the paper profile needs, as fixtures under ``served/<folder>/``: name -> served files."""
    from denoisebench.datasets.fixtures import build_fixture
    from denoisebench.mirror import data_mirror
    from denoisebench.papers import load_paper_methods
    from denoisebench.stage_support import datasets_needed

    load_paper_methods()
    files = {}
    for name in datasets_needed(params):
        entries = build_fixture(name, served, images=images, mirror=data_mirror())
        files[name] = [{"path": e.path, "sha256": e.sha256, "size": e.size} for e in entries]
    return files


class QuietHandler(SimpleHTTPRequestHandler):
    """Serves files without a log line per request."""

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (the base class's name)
        pass


def serve(folder: Path) -> tuple[ThreadingHTTPServer, str]:
    """A threaded HTTP server of ``folder`` on a free local port, and its base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(QuietHandler, directory=str(folder)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


def write_sources(files: dict[str, list[dict[str, Any]]], base: str, path: Path) -> None:
    from denoisebench.datasets.fetch import get_spec

    sources = {name: {"base_url": f"{base}/{quote(get_spec(name).folder)}", "files": entries}
               for name, entries in files.items()}
    path.write_text(json.dumps(sources, indent=1) + "\n", encoding="utf-8")


def clone(work: Path) -> tuple[Path, str, bool]:
    """A scratch clone of HEAD (no ../shared beside it); its path, the commit, and whether the checkout is dirty.
    (A clone is never reused: ``dvc exp run`` checks out the commit's outputs first, dropping an earlier run's.)"""
    target = work / "clone"
    subprocess.run(["git", "clone", "-q", str(REPO), str(target)], check=True)
    commit = subprocess.run(["git", "-C", str(target), "rev-parse", "HEAD"], capture_output=True, text=True,
                            check=True).stdout.strip()
    dirty = bool(subprocess.run(["git", "-C", str(REPO), "status", "--porcelain", "--untracked-files=no"],
                                capture_output=True, text=True, check=True).stdout.strip())
    return target, commit, dirty


def run_experiment(clone_dir: Path, sources: Path, weights: Path, timeout_s: float) -> dict[str, Any]:
    """``dvc exp run`` of the rehearsal in the clone; per-stage wall times from DVC's 'Running stage' lines."""
    cmd = ["dvc", "exp", "run", "-S", "profile=paper", "-S", "rehearsal=true", "-S", f"data.sources={sources}",
           "-S", f"data.weights_mirror={weights}"]
    env = {k: v for k, v in os.environ.items() if k not in ("DENOISEBENCH_MIRROR", "DENOISEBENCH_WEIGHTS")}
    env.update(ENV, PYTHONPATH=str(clone_dir / "src"))  # the clone's own code, not the installed checkout's
    log = clone_dir.parent / "dvc-exp-run.log"
    stages: list[list[Any]] = []
    start = time.perf_counter()
    with log.open("w", encoding="utf-8", buffering=1) as sink:  # line-buffered: readable while it runs
        proc = subprocess.Popen(cmd, cwd=clone_dir, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True, bufsize=1)
        assert proc.stdout is not None
        for line in proc.stdout:
            now = time.perf_counter() - start
            sink.write(f"[{now:7.1f}s] {line}")
            match = STAGE_LINE.match(line.strip())
            if match:
                if stages:
                    stages[-1][2] = now
                stages.append([match.group(1), now, None])
                print(f"[{now:7.1f}s] stage {match.group(1)}", flush=True)
            if now > timeout_s:
                proc.kill()
                break
        code = proc.wait()
    wall = time.perf_counter() - start
    if stages:
        stages[-1][2] = wall
    text = log.read_text(encoding="utf-8")
    errors = [line for line in text.splitlines() if re.search(r"\b(ERROR|error:|Traceback)", line)]
    return {"returncode": code, "wall_s": wall, "stages": [(s, e - b) for s, b, e in stages], "log": str(log),
            "errors": errors[:12], "command": " ".join(cmd)}


def built_entries(clone_dir: Path, commit: str) -> dict[str, int]:
    """Build records per pipeline stage that the rehearsal wrote: those of the clone's commit (the committed
    records come from earlier commits)."""
    counts: dict[str, int] = {}
    for record in clone_dir.glob("**/record.json"):
        if ".dvc" in record.parts or ".denoisebench" in record.parts:
            continue
        data = json.loads(record.read_text(encoding="utf-8"))
        if data.get("revision") != commit:
            continue
        stage = data.get("stage", "?")
        counts[stage] = counts.get(stage, 0) + 1
    return dict(sorted(counts.items()))


def summary(run: dict[str, Any], commit: str, dirty: bool, built: dict[str, int], n_sets: int, fixture_mb: float,
            build_s: float) -> str:
    lines = [
        "# Rehearsal of the paper profile (benchmarks/rehearsal.py)", "",
        f"Generated by `python benchmarks/rehearsal.py` at commit {commit[:10]}"
        f"{' (the checkout had uncommitted changes; the clone ran the commit)' if dirty else ''}, "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, on {os.cpu_count()} CPU cores.", "",
        f"- Fixtures: {n_sets} datasets in their published layouts, {fixture_mb:.1f} MB, built in {build_s:.0f} s,"
        " served over local HTTP (no data mirror beside the clone).",
        f"- Command: `{run['command'].replace(str(Path(tempfile.gettempdir())), '<tmp>')}`",
        f"- Result: exit {run['returncode']} after {run['wall_s'] / 60:.1f} min.",
        f"- Build records written: {', '.join(f'{k} {v}' for k, v in built.items()) or 'none'}.", "",
        "| stage | wall time (s) |", "|---|---|",
        *[f"| `{name}` | {seconds:.0f} |" for name, seconds in run["stages"]],
    ]
    if run["errors"]:
        lines += ["", "First error lines:", "", "```", *run["errors"], "```"]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from denoisebench.pretrained import weights_mirror

    weights = args.weights or weights_mirror()
    if weights is None or not Path(weights).is_dir():
        print("error: no released-model mirror; pass --weights <shared/weights>", file=sys.stderr)
        return 2
    work = args.work or Path(tempfile.mkdtemp(prefix="denoisebench-rehearsal-"))
    work.mkdir(parents=True, exist_ok=True)
    served = work / "served"
    try:
        t0 = time.perf_counter()
        files = build_fixtures(paper_params(), served, args.images)
        build_s = time.perf_counter() - t0
        size_mb = sum(f["size"] for entries in files.values() for f in entries) / 1e6
        print(f"fixtures: {len(files)} datasets, {size_mb:.1f} MB in {build_s:.0f} s", flush=True)
        server, base = serve(served)
        sources = work / "sources.json"
        write_sources(files, base, sources)
        clone_dir, commit, dirty = clone(work)
        try:
            run = run_experiment(clone_dir, sources, Path(weights).resolve(), args.timeout_s)
        finally:
            server.shutdown()
        text = summary(run, commit, dirty, built_entries(clone_dir, commit), len(files), size_mb, build_s)
        print(text)
        if args.out:
            args.out.write_text(text, encoding="utf-8")
        return int(run["returncode"] != 0)
    finally:
        if not args.keep and args.work is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())

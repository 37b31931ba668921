"""``denoisebench window import $OUT``: a GPU window's returned scores into the committed ``windows/`` (rows of the
tables with their GPU, time and commit; :mod:`denoisebench.window_import`)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from denoisebench.cli import register


def setup(p: argparse.ArgumentParser) -> None:
    """The ``window`` options."""
    p.add_argument("action", choices=["import"], help="import: copy a window's provenance and scores to windows/")
    p.add_argument("out", type=Path, help="the folder benchmarks/gpu_window.py wrote ($OUT, fetched from the GPU)")
    p.add_argument("--name", help="folder name under windows/ (default: <date>-<gpu slug>-<commit[:7]>)")
    p.add_argument("--windows", type=Path, help="the windows folder (default: windows/ beside params.yaml)")
    p.add_argument("--params", help="params.yaml (default: the project root's)")
    p.add_argument("--allow-cpu", action="store_true",
                   help="accept a window not run on CUDA (tests only; its rows say 'CPU (test import)')")


def run(args: argparse.Namespace) -> int:
    """Import the window; jobs that did not finish ok are named in one error line (exit 2) after the others."""
    from denoisebench.config import find_params_file
    from denoisebench.errors import ConfigError
    from denoisebench.window_import import import_window

    params = find_params_file(args.params)
    if params is None:
        raise ConfigError("no params.yaml found: run inside a denoisebench checkout or give --params")
    done = import_window(args.out, args.windows or params.parent / "windows", params, args.name, args.allow_cpu)
    print(f"imported {', '.join(done.entries)} into {done.folder} (commit it; the tables stage shows its rows)")
    if done.left_out:
        print("error: not imported (status not ok): "
              + "; ".join(f"{entry} ({why})" for entry, why in done.left_out.items()), file=sys.stderr)
        return 2
    return 0


register("window", run, setup, "import a GPU window's scores (benchmarks/gpu_window.py) as table rows",
         "denoisebench window import /tmp/window-out    # -> windows/2026-12-06-nvidia-h100-80gb-hbm3-abc1234/")

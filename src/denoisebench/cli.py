"""The ``denoisebench`` command line: datasets, pretrained, synthesize, score, denoise, methods, papers, status,
tracking.

Each subcommand is one :class:`Command` in the registry ``COMMANDS``: its function, the function adding its
options, a one-line help and an example (the epilog of its ``--help``). A module adds commands by calling
:func:`register` (or the :func:`command` decorator) and is listed in :data:`COMMAND_MODULES`. Errors of the
benchmark's own kinds (:class:`~denoisebench.errors.DenoiseBenchError`) and failed writes (read-only or full disk)
are printed as one line (``error: ...``) with exit status 2, never as a traceback; bad option values are argparse
usage errors (also status 2); anything else is a bug and keeps its traceback.

Progress bars (tqdm, on stderr) show on commands that take more than a few seconds; they are off when stderr is
not a terminal or with ``--quiet``.
"""

from __future__ import annotations

import argparse
import errno
import json
import os
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from denoisebench.errors import ConfigError, DenoiseBenchError, format_error

T = TypeVar("T")
Run = Callable[[argparse.Namespace], int]
Setup = Callable[[argparse.ArgumentParser], None]


@dataclass(frozen=True)
class Command:
    """One subcommand: ``run(args) -> exit status``, ``setup(parser)`` adding its options, its help and example."""

    name: str
    run: Run
    setup: Setup
    help: str
    example: str = ""
    description: str = ""


COMMANDS: dict[str, Command] = {}
#: Modules whose import registers more commands (one line per module).
COMMAND_MODULES: tuple[str, ...] = (
    "denoisebench.cli_files",
    "denoisebench.cli_preflight",
    "denoisebench.cli_window",
)


def register(name: str, run: Run, setup: Setup, help: str, example: str = "", description: str = "") -> None:
    """Add a subcommand (a name already registered is an error: one command per name)."""
    if name in COMMANDS:
        raise ValueError(f"denoisebench command {name!r} registered twice")
    COMMANDS[name] = Command(name, run, setup, help, example, description)


def command(name: str, setup: Setup, help: str, example: str = "", description: str = "") -> Callable[[Run], Run]:
    """Decorator form of :func:`register`."""
    def decorator(func: Run) -> Run:
        register(name, func, setup, help, example, description)
        return func

    return decorator


def progress(items: Iterable[T], args: argparse.Namespace, desc: str, total: int | None = None,
             unit: str = "image") -> Iterator[T]:
    """``items`` with a tqdm bar on stderr (off with ``--quiet`` or when stderr is not a terminal)."""
    from tqdm import tqdm

    quiet = getattr(args, "quiet", False)
    yield from tqdm(items, desc=desc, total=total, unit=unit, file=sys.stderr, dynamic_ncols=True, leave=False,
                    disable=True if quiet or not sys.stderr.isatty() else None)


class StepBar:
    """A per-step progress bar, shown from the first step reported (``bar(step)``; ``bar.close()`` at the end):
    methods that optimise per image (zero-shot) report their steps through ``DenoiseContext.extra["step_callback"]``.
    """

    def __init__(self, args: argparse.Namespace, desc: str, total: int | None) -> None:
        self.args, self.desc, self.total, self.bar = args, desc, total, None

    def __call__(self, step: int) -> None:
        if self.bar is None:
            from tqdm import tqdm

            quiet = getattr(self.args, "quiet", False)
            self.bar = tqdm(desc=self.desc, total=self.total, unit="step", file=sys.stderr, dynamic_ncols=True,
                            leave=False, disable=True if quiet or not sys.stderr.isatty() else None)
        self.bar.update(step - self.bar.n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def say(args: argparse.Namespace, message: str) -> None:
    """An informational line on stderr (silenced by ``--quiet``; warnings and errors are not)."""
    if not getattr(args, "quiet", False):
        print(message, file=sys.stderr)


# ---------------------------------------------------------------------------------------------------- datasets
def _datasets_setup(p: argparse.ArgumentParser) -> None:
    p.add_argument("action", choices=["list", "fetch", "verify"],
                   help="list: the registered datasets; fetch: download (or copy from the mirror) and verify one; "
                        "verify: check a fetched one against its checksums")
    p.add_argument("name", nargs="?", help="dataset name (see `denoisebench datasets list`); needed by fetch/verify")
    p.add_argument("--root", default="data/raw", help="data root (default: data/raw)")
    p.add_argument("--mirror", help="local mirror folder (default: ../shared/data beside the checkout, else env "
                   "DENOISEBENCH_MIRROR)")


@command("datasets", _datasets_setup, "list, fetch or verify datasets",
         "denoisebench datasets list\n  denoisebench datasets fetch kodak24 --root data/raw\n"
         "  denoisebench datasets verify kodak24")
def cmd_datasets(args: argparse.Namespace) -> int:
    from denoisebench.datasets import fetch_dataset, format_dataset_table, verify_dataset

    if args.action == "list":
        print(format_dataset_table())
        return 0
    if not args.name:
        raise ConfigError(f"`denoisebench datasets {args.action}` needs a dataset NAME (see `denoisebench datasets list`)")
    root = Path(args.root)
    if args.action == "fetch":
        mirror = Path(args.mirror) if args.mirror else None
        if mirror is not None:
            from denoisebench.cli_outputs import check_apart

            check_apart([("--mirror", mirror)], [("--root", root)])
        folder = fetch_dataset(args.name, root, mirror=mirror, progress=not args.quiet)
        print(f"{args.name}: fetched and verified in {folder}")
        return 0
    report = verify_dataset(args.name, root)
    print(report)
    return 0 if report.ok else 1


# -------------------------------------------------------------------------------------------------- pretrained
def _pretrained_setup(p: argparse.ArgumentParser) -> None:
    p.add_argument("action", choices=["list", "fetch"], help="list: the released models; fetch: download and "
                   "verify one")
    p.add_argument("name", nargs="?", help="model name (see `denoisebench pretrained list`); needed by fetch")
    p.add_argument("--root", default="data/raw/weights", help="weights folder (default: data/raw/weights)")
    p.add_argument("--mirror", help="weights mirror (default: $DENOISEBENCH_WEIGHTS, else weights/ beside the data "
                                    "mirror: ../shared/data beside the checkout, then $DENOISEBENCH_MIRROR)")


@command("pretrained", _pretrained_setup, "list or fetch the authors' released DnCNN/FFDNet models",
         "denoisebench pretrained list\n  denoisebench pretrained fetch dncnn_color_blind")
def cmd_pretrained(args: argparse.Namespace) -> int:
    from denoisebench.pretrained import PRETRAINED, fetch_weights

    if args.action == "list":
        print(f"{'name':<19}{'arch':<8}{'ch':<4}{'depth':<7}description")
        for name in PRETRAINED.names():
            spec = PRETRAINED.get(name)
            print(f"{name:<19}{spec.arch:<8}{spec.channels:<4}{spec.depth:<7}{spec.description}")
        return 0
    if not args.name:
        raise ConfigError("`denoisebench pretrained fetch` needs a model NAME (see `denoisebench pretrained list`)")
    if args.mirror:
        from denoisebench.cli_outputs import check_apart

        check_apart([("--mirror", Path(args.mirror))], [("--root", Path(args.root))])
    path = fetch_weights(args.name, Path(args.root), mirror=args.mirror, progress=not args.quiet)
    print(f"{args.name}: fetched and verified at {path}")
    return 0


# ----------------------------------------------------------------------------------------------------- methods
def params_entries(explicit: str | None) -> tuple[Path | None, dict | None, dict[str, str]]:
    """(params file, its params, entry -> group): the file of ``--params`` or the project's (see
    :func:`denoisebench.config.find_params_file`); no file gives ``(None, None, {})``."""
    from denoisebench.config import find_params_file, load_params, method_entries

    path = find_params_file(explicit)
    if path is None:
        return None, None, {}
    params = load_params(path)
    return path, params, method_entries(params)


def _methods_setup(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print JSON instead of tables")
    p.add_argument("--params", help="params.yaml whose entries to list (default: the project root's)")


@command("methods", _methods_setup, "list registered methods and the params.yaml method entries",
         "denoisebench methods\n  denoisebench methods --json")
def cmd_methods(args: argparse.Namespace) -> int:
    """Registered methods, then the method entries of the project's params.yaml (usable as ``--method``)."""
    from denoisebench.config import method_entry
    from denoisebench.methods import METHODS
    from denoisebench.papers import paper_of_module

    rows = []
    for name in METHODS.names():
        cls = METHODS.get(name)
        paper = paper_of_module(cls.__module__)  # the package the method lives in; core methods are baselines
        rows.append({"name": name, "paper": f"{paper.number} {paper.key}" if paper else cls.paper, "kind": cls.kind,
                     "parameters": cls().parameter_count()})
    params_file, params, groups = params_entries(args.params)
    entries = []
    for name, group in groups.items():
        entry = method_entry(params, name)
        trained = group in ("learned", "cascade")
        checkpoint = params_file.parent / "models" / name / "model.pt"
        entries.append({"entry": name, "group": group, "method": entry.method,
                        "checkpoint": str(checkpoint) if trained else None,
                        "trained": checkpoint.is_file() if trained else None})
    if args.json:
        print(json.dumps({"methods": rows, "params_file": params_file and str(params_file), "entries": entries},
                         indent=2))
        return 0
    print(f"{'name':<14}{'paper':<20}{'kind':<14}parameters")
    for row in rows:
        count = "-" if row["parameters"] is None else f"{row['parameters']:,}"
        print(f"{row['name']:<14}{row['paper']:<20}{row['kind']:<14}{count}")
    print()
    if params_file is None:
        print("params entries: no params.yaml found (run inside a denoisebench checkout or pass --params)")
        return 0
    print(f"params entries of {params_file} (use as --method; learned ones need `dvc repro` first):")
    print(f"{'entry':<22}{'group':<11}{'method':<14}checkpoint")
    for row in entries:
        state = "-" if row["trained"] is None else ("trained" if row["trained"] else "not trained yet")
        print(f"{row['entry']:<22}{row['group']:<11}{row['method']:<14}{state}")
    return 0


# ------------------------------------------------------------------------------------------------------ papers
def _papers_setup(p: argparse.ArgumentParser) -> None:
    p.add_argument("--params", help="params.yaml (default: the project root's)")
    p.add_argument("--readme", help="rewrite the generated paper table of this README instead of printing it")


@command("papers", _papers_setup, "what each paper's package implements (the README's paper table)",
         "denoisebench papers\n  denoisebench papers --readme README.md")
def cmd_papers(args: argparse.Namespace) -> int:
    """Each discovered paper's status (from its declaration and the params entries); ``--readme`` rewrites the
    README's generated paper table."""
    from denoisebench.config import find_params_file, load_params
    from denoisebench.paper_status import status_table, update_readme

    params_file = find_params_file(args.params)
    params = load_params(params_file) if params_file is not None else {}
    if args.readme:
        changed = update_readme(Path(args.readme), params)
        print(f"{args.readme}: paper table {'updated' if changed else 'already up to date'}")
        return 0
    print(status_table(params), end="")
    return 0


# ------------------------------------------------------------------------------------------------------ status
def _status_setup(p: argparse.ArgumentParser) -> None:
    p.add_argument("--stage", action="append", choices=["train", "predict", "score", "paper"],
                   help="only this stage (repeatable; default: all; paper = every paper figure/table stage)")
    p.add_argument("--params", help="params.yaml (default: the project root's)")


@command("status", _status_setup, "each stale entry of the train/predict/score/paper stages, with the reason",
         "denoisebench status\n  denoisebench status --stage train")
def cmd_status(args: argparse.Namespace) -> int:
    """Each stale entry of the train, predict, score and paper stages with why it would be rebuilt."""
    from denoisebench.config import find_params_file, load_params
    from denoisebench.pipeline.status import pipeline_steps, stale_lines

    params_file = find_params_file(args.params)
    if params_file is None:
        raise ConfigError("no params.yaml found: run from the repository (or pass --params)")
    os.chdir(params_file.parent)
    lines = stale_lines(pipeline_steps(load_params(params_file.name), params_file.name), args.stage)
    print("\n".join(lines) if lines else "every entry is current")
    return 0


# ---------------------------------------------------------------------------------------------------- tracking
def _tracking_setup(p: argparse.ArgumentParser) -> None:
    p.add_argument("action", choices=["list", "flush", "retry", "drop"],
                   help="list: pending and set-aside journals; flush: replay the pending ones; retry ID: replay a "
                        "set-aside one (after fixing what its reason names); drop ID: delete a set-aside one")
    p.add_argument("id", nargs="?", help="journal id (32 hex characters, from `denoisebench tracking list`); "
                                         "needed by retry/drop")


@command("tracking", _tracking_setup, "replay, list, retry or drop deferred MLflow runs (.denoisebench/mlflow-journal)",
         "denoisebench tracking list\n  denoisebench tracking flush\n  denoisebench tracking retry 3f2a...e9",
         "The demo profile records its MLflow runs in a local journal replayed by the score stage. A journal that "
         "cannot be replayed (a missing artifact, an MLflow error) is set aside and never blocks the pipeline; "
         "list shows why, retry replays it, drop deletes it.")
def cmd_tracking(args: argparse.Namespace) -> int:
    from denoisebench import tracking_journal as tj
    from denoisebench.mirror import find_repo_root
    from denoisebench.tracking import flush_pending, tracking_uri

    root = tj.journal_root(find_repo_root())
    if args.action in ("retry", "drop") and not args.id:
        raise ConfigError(f"`denoisebench tracking {args.action}` needs a journal ID (see `denoisebench tracking "
                          "list`)")
    if args.action == "list":
        waiting, aside = tj.pending(root), tj.set_aside_journals(root)
        print(f"pending journals in {root} ({len(waiting)}; `denoisebench tracking flush` replays them):")
        for folder in waiting:
            print(f"  {folder.name}  {tj.describe(folder)}")
        print(f"set aside in {tj.failed_root(root)} ({len(aside)}; `denoisebench tracking retry ID` replays one "
              "after fixing its reason, `denoisebench tracking drop ID` deletes it):")
        for name, reason in aside:
            print(f"  {name}  {reason}")
        return 0
    if args.action == "drop":
        tj.drop(root, args.id)
        print(f"dropped MLflow journal {args.id}")
        return 0
    if args.action == "retry":
        tj.retry(root, args.id)
    count = flush_pending()
    aside = [name for name, _ in tj.set_aside_journals(root)]
    print(f"replayed {count} deferred runs into {tracking_uri()}")
    if args.action == "retry" and args.id in aside:
        raise DenoiseBenchError(f"MLflow journal {args.id} still cannot be replayed (see the warning above); it is "
                                "set aside again")
    return 0


# ------------------------------------------------------------------------------------------------------ parser
def build_parser() -> argparse.ArgumentParser:
    """The parser of every registered command (the modules of :data:`COMMAND_MODULES` are imported first)."""
    import importlib

    for module in COMMAND_MODULES:
        importlib.import_module(module)
    parser = argparse.ArgumentParser(prog="denoisebench", description="Image-denoising reproducibility benchmark.",
                                     epilog="Run `denoisebench COMMAND --help` for a command's options and example.")
    parser.add_argument("-q", "--quiet", action="store_true",
                        help="no progress bars or informational lines on stderr (warnings and errors stay)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for cmd in COMMANDS.values():
        p = sub.add_parser(cmd.name, help=cmd.help, description=cmd.description or cmd.help,
                           epilog=f"example:\n  {cmd.example}" if cmd.example else None,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        p.add_argument("-q", "--quiet", action="store_true", default=argparse.SUPPRESS,
                       help="no progress bars or informational lines on stderr")
        cmd.setup(p)
    return parser


#: errno values of a failed write that are the environment's, not a bug: one error line, not a traceback.
_WRITE_ERRNOS = {errno.EROFS, errno.ENOSPC, errno.EDQUOT, errno.EACCES, errno.EPERM, errno.ENOTDIR, errno.EISDIR,
                 errno.EEXIST, errno.ENAMETOOLONG, errno.EFBIG}


def _os_error_line(exc: OSError) -> str:
    where = exc.filename or "the output"
    fix = {errno.ENOSPC: "free some space or choose an output on another disk",
           errno.EDQUOT: "free some space or choose an output on another disk",
           errno.EROFS: "choose a writable output location"}.get(exc.errno, "check the path and its permissions")
    return f"error: cannot write {where}: {exc.strerror or exc}; {fix} (nothing was left half-written)"


def main(argv: list[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # usage errors (bad option values: status 2) and --help (0), as a return value
        return exc.code if isinstance(exc.code, int) else 2
    args.quiet = getattr(args, "quiet", False)
    try:
        return COMMANDS[args.command].run(args)
    except DenoiseBenchError as exc:  # known errors: one line; anything else keeps its traceback
        print(format_error(exc), file=sys.stderr)
        return 2
    except OSError as exc:
        if exc.errno not in _WRITE_ERRNOS:
            raise
        print(_os_error_line(exc), file=sys.stderr)
        return 2


if __name__ == "__main__":  # `python -m denoisebench.cli`: run the imported module, the one commands register in
    from denoisebench.cli import main as _main

    sys.exit(_main())

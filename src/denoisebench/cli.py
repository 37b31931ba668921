"""The ``denoisebench`` command line: datasets, pretrained, synthesize, score, denoise, methods.

Each subcommand is a small function registered in ``COMMANDS``; errors of the benchmark's own kinds
(:class:`~denoisebench.errors.DenoiseBenchError`) are printed as one line (``error: ...``) with exit status 2, never
as a traceback; bad option values are argparse usage errors (also status 2); anything else is a bug and keeps its
traceback.
"""

from __future__ import annotations

import argparse
import os
import json
import sys
from pathlib import Path
from typing import Callable

from denoisebench.errors import ConfigError, DenoiseBenchError, format_error
from denoisebench.validation import SEED, SIGMA, arg_type

COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {}


def command(name: str) -> Callable[[Callable[[argparse.Namespace], int]], Callable[[argparse.Namespace], int]]:
    def decorator(func: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
        COMMANDS[name] = func
        return func

    return decorator


# ---------------------------------------------------------------------------------------------------- datasets
@command("datasets")
def cmd_datasets(args: argparse.Namespace) -> int:
    from denoisebench.datasets import fetch_dataset, format_dataset_table, verify_dataset

    if args.action == "list":
        print(format_dataset_table())
        return 0
    if not args.name:
        raise ConfigError(f"`denoisebench datasets {args.action}` needs a dataset NAME (see `denoisebench datasets list`)")
    root = Path(args.root)
    if args.action == "fetch":
        folder = fetch_dataset(args.name, root, mirror=Path(args.mirror) if args.mirror else None, progress=True)
        print(f"{args.name}: fetched and verified in {folder}")
        return 0
    report = verify_dataset(args.name, root)
    print(report)
    return 0 if report.ok else 1


# -------------------------------------------------------------------------------------------------- pretrained
@command("pretrained")
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
    path = fetch_weights(args.name, Path(args.root), mirror=args.mirror)
    print(f"{args.name}: fetched and verified at {path}")
    return 0


# -------------------------------------------------------------------------------------------------- synthesize
def noise_text_from_args(args: argparse.Namespace) -> str:
    """``--noise awgn --sigma 25 --param k=v`` -> ``"awgn:sigma=25,k=v"`` (a full spec in --noise also works)."""
    if ":" in args.noise:
        return args.noise
    params = [f"sigma={args.sigma:g}"] if args.sigma is not None else []
    for item in args.param or []:
        if "=" not in item:
            raise ConfigError(f"--param {item!r}: expected KEY=VALUE")
        params.append(item)
    return f"{args.noise}:{','.join(params)}" if params else args.noise


@command("synthesize")
def cmd_synthesize(args: argparse.Namespace) -> int:
    from denoisebench.synthesis import noise_overrides, synthesize_folder

    text = noise_text_from_args(args)
    out = synthesize_folder(Path(args.input), Path(args.output), text, args.seed,
                            noise_overrides(args.clip, args.quantize))
    print(f"wrote noisy images and manifest.json to {out} ({text}, seed {args.seed})")
    return 0


# ------------------------------------------------------------------------------------------------------- score
@command("score")
def cmd_score(args: argparse.Namespace) -> int:
    from denoisebench.metrics import PROTOCOLS
    from denoisebench.scoring import format_scores, score_folders

    names = args.protocol or ["default"]
    unknown = [n for n in names if n not in PROTOCOLS]
    if unknown:
        raise ConfigError(f"--protocol {unknown[0]!r} unknown; valid: {', '.join(sorted(PROTOCOLS))}")
    frame = score_folders(Path(args.reference), Path(args.restored), {n: PROTOCOLS[n] for n in names})
    print(format_scores(frame, as_json=args.json))
    return 0


# ----------------------------------------------------------------------------------------------------- denoise
def _params_entries(explicit: str | None) -> tuple[Path | None, dict | None, dict[str, str]]:
    """(params file, its params, entry -> group): the file of ``--params`` or the project's (see
    :func:`denoisebench.config.find_params_file`); no file gives ``(None, None, {})``."""
    from denoisebench.config import find_params_file, load_params, method_entries

    path = find_params_file(explicit)
    if path is None:
        return None, None, {}
    params = load_params(path)
    return path, params, method_entries(params)


def _method_from_args(args: argparse.Namespace):
    """A registered method name, or a params.yaml entry name (its config and its trained ``models/<entry>``
    checkpoint beside that params.yaml); says on stderr which params file and checkpoint were read."""
    from denoisebench.config import method_entry
    from denoisebench.errors import UnknownNameError
    from denoisebench.methods import METHODS, build_method
    from denoisebench.stage_support import params_section

    if args.pretrained:
        if args.method or args.checkpoint:
            raise ConfigError("give either --pretrained NAME or --method (with --checkpoint), not both")
        return build_method("pretrained", {"model": args.pretrained, "weights_root": args.weights_root,
                                           "fetch": True})
    if not args.method:
        raise ConfigError("give --method NAME (a registered method or params.yaml entry) or --pretrained NAME")
    name, config, checkpoint = args.method, {}, args.checkpoint
    if name not in METHODS:
        params_file, params, groups = _params_entries(args.params)
        if name not in groups:
            where = (f"params entries of {params_file}: {', '.join(sorted(groups))}" if params_file else
                     "no params.yaml found in this folder, its parents or the installed checkout; pass "
                     "--params PATH/params.yaml to use a params entry")
            raise UnknownNameError(f"unknown method {name!r}; valid names: {', '.join(METHODS.names())}; {where}")
        entry = method_entry(params, name)
        with params_section(f"methods.{groups[name]}.{name} of {params_file}"):
            method = build_method(entry.method, entry.config)
        checkpoint = checkpoint or (str(params_file.parent / "models" / name / "model.pt")
                                    if method.needs_training else None)
        print(f"method {name!r}: params entry methods.{groups[name]}.{name} read from {params_file}"
              + (f"; checkpoint {checkpoint}" if method.needs_training else ""), file=sys.stderr)
    else:
        method = build_method(name, config)
    if method.needs_training:
        if not checkpoint:
            raise ConfigError(f"method {name!r} is learned: pass --checkpoint PATH (e.g. models/<entry>/model.pt "
                              "written by `dvc repro`), or give a params entry name")
        method.load(Path(checkpoint))
    return method


def _denoise_pairs(source: Path, target: Path, suffix: str) -> list[tuple[Path, Path]]:
    """(input, output) files: one pair for a file, one per image (``<stem><suffix>`` in ``target``) for a folder."""
    if not source.is_dir():
        return [(source, target)]
    from denoisebench.imageio import list_images

    pairs = [(p, target / f"{p.stem}{suffix}") for p in list_images(source)]
    if not pairs:
        raise ConfigError(f"--input {source}: no images in this folder")
    return pairs


@command("denoise")
def cmd_denoise(args: argparse.Namespace) -> int:
    """Denoise a file or a folder. Every input is decoded before any output is written, and a folder's outputs
    are written to a temporary folder published only when all images succeeded (nothing partial is left)."""
    from denoisebench.fsutil import atomic_dir
    from denoisebench.imageio import read_image, write_image
    from denoisebench.methods.base import DenoiseContext
    from denoisebench.prediction import denoise_adapted, estimate_sigma_255
    from denoisebench.stage_support import resolve_device

    method = _method_from_args(args)
    source, target = Path(args.input), Path(args.output)
    pairs = _denoise_pairs(source, target, args.suffix)
    for src, _ in pairs:  # a corrupt or unsupported file fails here, before anything is written
        read_image(src)
    device = resolve_device(args.device)

    def run(src: Path, dst: Path) -> None:
        noisy = read_image(src, warn=False)  # its warnings were printed by the check above
        sigma = args.sigma if args.sigma is not None else estimate_sigma_255(noisy)
        if args.sigma is None:
            print(f"{src.name}: no --sigma given; estimated sigma={sigma:.2f} (0-255)", file=sys.stderr)
        write_image(dst, denoise_adapted(method, noisy, DenoiseContext(sigma=sigma, seed=args.seed, device=device)))

    if not source.is_dir():
        run(source, target)  # write_image is atomic
        print(f"{source} -> {target}")
        return 0
    with atomic_dir(target) as tmp:
        for src, dst in pairs:
            run(src, tmp / dst.name)
    for src, dst in pairs:
        print(f"{src} -> {dst}")
    return 0


# ----------------------------------------------------------------------------------------------------- methods
@command("methods")
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
    params_file, params, groups = _params_entries(args.params)
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
@command("papers")
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


# ---------------------------------------------------------------------------------------------------- tracking
@command("tracking")
def cmd_tracking(args: argparse.Namespace) -> int:
    """``flush``: replay the deferred MLflow runs (the demo profile's journal) into the store."""
    from denoisebench.tracking import flush_pending, tracking_uri

    print(f"replayed {flush_pending()} deferred runs into {tracking_uri()}")
    return 0


# ---------------------------------------------------------------------------------------------------- status
@command("status")
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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="denoisebench", description="Image-denoising reproducibility benchmark.")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("datasets", help="list, fetch or verify datasets")
    p.add_argument("action", choices=["list", "fetch", "verify"])
    p.add_argument("name", nargs="?")
    p.add_argument("--root", default="data/raw", help="data root (default: data/raw)")
    p.add_argument("--mirror", help="local mirror folder (default: ../shared/data beside the checkout, else env "
                   "DENOISEBENCH_MIRROR)")

    p = sub.add_parser("pretrained", help="list or fetch the authors' released DnCNN/FFDNet models")
    p.add_argument("action", choices=["list", "fetch"])
    p.add_argument("name", nargs="?")
    p.add_argument("--root", default="data/raw/weights", help="weights folder (default: data/raw/weights)")
    p.add_argument("--mirror", help="weights mirror (default: $DENOISEBENCH_WEIGHTS, else weights/ beside the data "
                                    "mirror: ../shared/data beside the checkout, then $DENOISEBENCH_MIRROR)")

    p = sub.add_parser("synthesize", help="add seeded noise to every image of a folder")
    p.add_argument("--input", required=True)
    p.add_argument("--output", required=True)
    p.add_argument("--noise", required=True, help="noise model name (awgn, poisson, ...) or a full spec 'awgn:sigma=25'")
    p.add_argument("--sigma", type=arg_type(SIGMA, "--sigma"), help="noise level in 0-255 units")
    p.add_argument("--param", action="append", help="extra noise parameter KEY=VALUE (repeatable)")
    p.add_argument("--seed", type=arg_type(SEED, "--seed"), default=0)
    p.add_argument("--clip", action=argparse.BooleanOptionalAction, default=None, help="clip noisy to [0,1]")
    p.add_argument("--quantize", action=argparse.BooleanOptionalAction, default=None, help="quantise noisy to uint8")

    p = sub.add_parser("score", help="PSNR/SSIM of restored images against references (matched by file stem)")
    p.add_argument("--reference", required=True)
    p.add_argument("--restored", required=True)
    p.add_argument("--protocol", action="append", help="named protocol (default, shave3, ...); repeatable")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("denoise", help="denoise an image file or a folder with any method")
    p.add_argument("--method", help="registered method or params.yaml entry")
    p.add_argument("--pretrained", help="a released model (`denoisebench pretrained list`), fetched on demand")
    p.add_argument("--weights-root", default="data/raw/weights", help="where released models are fetched to")
    p.add_argument("--input", required=True)
    p.add_argument("--output", required=True)
    p.add_argument("--sigma", type=arg_type(SIGMA, "--sigma"),
                   help="noise level (0-255) for non-blind methods; estimated if omitted")
    p.add_argument("--checkpoint", help="model.pt of a learned method")
    p.add_argument("--params", help="params.yaml for entry names (default: the project root's, found by walking "
                                    "up from the current folder to dvc.yaml + params.yaml)")
    p.add_argument("--device", default="auto")
    p.add_argument("--seed", type=arg_type(SEED, "--seed"), default=0)
    p.add_argument("--suffix", default=".png", help="output suffix for folders: .png (uint8) or .npy (float)")

    p = sub.add_parser("methods", help="list registered methods and the params.yaml method entries")
    p.add_argument("--json", action="store_true")
    p.add_argument("--params", help="params.yaml whose entries to list (default: the project root's)")

    p = sub.add_parser("papers", help="what each paper's package implements (the README's paper table)")
    p.add_argument("--params", help="params.yaml (default: the project root's)")
    p.add_argument("--readme", help="rewrite the generated paper table of this README instead of printing it")

    p = sub.add_parser("status", help="each stale entry of the train/predict/score/paper stages, with the reason",
                       epilog="example: denoisebench status --stage train")
    p.add_argument("--stage", action="append", choices=["train", "predict", "score", "paper"],
                   help="only this stage (repeatable; default: all; paper = every paper figure/table stage)")
    p.add_argument("--params", help="params.yaml (default: the project root's)")

    p = sub.add_parser("tracking", help="replay deferred MLflow runs (.denoisebench/mlflow-journal) into the store")
    p.add_argument("action", choices=["flush"])
    return parser


def main(argv: list[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # usage errors (bad option values: status 2) and --help (0), as a return value
        return exc.code if isinstance(exc.code, int) else 2
    try:
        return COMMANDS[args.command](args)
    except DenoiseBenchError as exc:  # known errors: one line; anything else keeps its traceback
        print(format_error(exc), file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())

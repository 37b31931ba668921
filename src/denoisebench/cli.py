"""The ``denoisebench`` command line: datasets, pretrained, synthesize, score, denoise, methods.

Each subcommand is a small function registered in ``COMMANDS``; errors of the benchmark's own kinds are printed
as one line (``error: ...``) with exit status 2, never as a traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Callable

from denoisebench.errors import ConfigError, DenoiseBenchError

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
def _method_from_args(args: argparse.Namespace):
    """A registered method name, or a params.yaml entry name (its config and default checkpoint)."""
    from denoisebench.config import load_params, method_entries, method_entry
    from denoisebench.methods import METHODS, build_method

    if args.pretrained:
        if args.method or args.checkpoint:
            raise ConfigError("give either --pretrained NAME or --method (with --checkpoint), not both")
        return build_method("pretrained", {"model": args.pretrained, "weights_root": args.weights_root,
                                           "fetch": True})
    if not args.method:
        raise ConfigError("give --method NAME (a registered method or params.yaml entry) or --pretrained NAME")
    name, config, checkpoint = args.method, {}, args.checkpoint
    if name not in METHODS and Path(args.params).is_file() and name in method_entries(load_params(args.params)):
        entry = method_entry(load_params(args.params), name)
        name, config = entry.method, entry.config
        checkpoint = checkpoint or str(Path("models") / entry.entry / "model.pt")
    method = build_method(name, config)
    if method.needs_training:
        if not checkpoint:
            raise ConfigError(f"method {name!r} is learned: pass --checkpoint PATH (e.g. models/<entry>/model.pt "
                              "written by `dvc repro`)")
        method.load(Path(checkpoint))
    return method


@command("denoise")
def cmd_denoise(args: argparse.Namespace) -> int:
    from denoisebench.imageio import list_images, read_image, write_image
    from denoisebench.methods.base import DenoiseContext
    from denoisebench.prediction import denoise_adapted, estimate_sigma_255
    from denoisebench.stage_support import resolve_device

    method = _method_from_args(args)
    source, target = Path(args.input), Path(args.output)
    pairs = [(p, target / f"{p.stem}{args.suffix}") for p in list_images(source)] if source.is_dir() else [(source, target)]
    if not pairs:
        raise ConfigError(f"--input {source}: no images in this folder")
    device = resolve_device(args.device)
    for src, dst in pairs:
        noisy = read_image(src)
        sigma = args.sigma if args.sigma is not None else estimate_sigma_255(noisy)
        if args.sigma is None:
            print(f"{src.name}: no --sigma given; estimated sigma={sigma:.2f} (0-255)", file=sys.stderr)
        restored = denoise_adapted(method, noisy, DenoiseContext(sigma=sigma, seed=args.seed, device=device))
        write_image(dst, restored)
        print(f"{src} -> {dst}")
    return 0


# ----------------------------------------------------------------------------------------------------- methods
@command("methods")
def cmd_methods(args: argparse.Namespace) -> int:
    from denoisebench.methods import METHODS

    rows = []
    for name in METHODS.names():
        cls = METHODS.get(name)
        rows.append({"name": name, "paper": cls.paper, "kind": cls.kind, "parameters": cls().parameter_count()})
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        print(f"{'name':<14}{'paper':<20}{'kind':<14}parameters")
        for row in rows:
            count = "-" if row["parameters"] is None else f"{row['parameters']:,}"
            print(f"{row['name']:<14}{row['paper']:<20}{row['kind']:<14}{count}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="denoisebench", description="Image-denoising reproducibility benchmark.")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("datasets", help="list, fetch or verify datasets")
    p.add_argument("action", choices=["list", "fetch", "verify"])
    p.add_argument("name", nargs="?")
    p.add_argument("--root", default="data/raw", help="data root (default: data/raw)")
    p.add_argument("--mirror", help="local mirror folder (default: env DENOISEBENCH_MIRROR)")

    p = sub.add_parser("pretrained", help="list or fetch the authors' released DnCNN/FFDNet models")
    p.add_argument("action", choices=["list", "fetch"])
    p.add_argument("name", nargs="?")
    p.add_argument("--root", default="data/raw/weights", help="weights folder (default: data/raw/weights)")
    p.add_argument("--mirror", help="weights mirror (default: $DENOISEBENCH_WEIGHTS, else weights/ beside "
                                    "$DENOISEBENCH_MIRROR)")

    p = sub.add_parser("synthesize", help="add seeded noise to every image of a folder")
    p.add_argument("--input", required=True)
    p.add_argument("--output", required=True)
    p.add_argument("--noise", required=True, help="noise model name (awgn, poisson, ...) or a full spec 'awgn:sigma=25'")
    p.add_argument("--sigma", type=float, help="noise level in 0-255 units")
    p.add_argument("--param", action="append", help="extra noise parameter KEY=VALUE (repeatable)")
    p.add_argument("--seed", type=int, default=0)
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
    p.add_argument("--sigma", type=float, help="noise level (0-255) for non-blind methods; estimated if omitted")
    p.add_argument("--checkpoint", help="model.pt of a learned method")
    p.add_argument("--params", default="params.yaml")
    p.add_argument("--device", default="auto")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--suffix", default=".png", help="output suffix for folders: .png (uint8) or .npy (float)")

    p = sub.add_parser("methods", help="list registered methods")
    p.add_argument("--json", action="store_true")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except (DenoiseBenchError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())

"""The ``denoisebench`` commands that read and write image files: synthesize, score, denoise.

Every one checks its outputs first (:mod:`denoisebench.cli_outputs`: never into an input, never over a file it did
not write, a suffix it writes in that format), decodes every input before anything is written, and publishes its
outputs atomically, so a failure leaves nothing partial.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from denoisebench.cli import StepBar, command, progress, say
from denoisebench.cli_outputs import check_apart, check_folder_output, check_replaceable, check_suffix, remember
from denoisebench.errors import ConfigError
from denoisebench.validation import SEED, SIGMA, arg_type

#: Training profiles whose schedules are too short for a checkpoint to be a reproduction.
SHORT_PROFILES = ("demo", "quick")


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


def _synthesize_setup(p: argparse.ArgumentParser) -> None:
    p.add_argument("--input", required=True, help="folder of clean images (png, jpg, bmp, tif or npy); only read")
    p.add_argument("--output", required=True, help="folder to write the noisy images and manifest.json to (created "
                   "when missing; must not be or overlap --input)")
    p.add_argument("--noise", required=True, help="noise model name (awgn, poisson, ...) or a full spec 'awgn:sigma=25'")
    p.add_argument("--sigma", type=arg_type(SIGMA, "--sigma"), help="noise level in 0-255 units")
    p.add_argument("--param", action="append", help="extra noise parameter KEY=VALUE (repeatable)")
    p.add_argument("--seed", type=arg_type(SEED, "--seed"), default=0,
                   help="base seed; each image's seed derives from it, the folder name and the file stem (default: 0)")
    p.add_argument("--clip", action=argparse.BooleanOptionalAction, default=None,
                   help="clip noisy to [0,1] (default: the noise model's protocol)")
    p.add_argument("--quantize", action=argparse.BooleanOptionalAction, default=None,
                   help="quantise noisy to uint8 (default: the noise model's protocol)")
    p.add_argument("--overwrite", action="store_true", help="replace existing files in --output that denoisebench "
                   "did not write (never an input)")


@command("synthesize", _synthesize_setup, "add seeded noise to every image of a folder",
         "denoisebench synthesize --input data/clean --output data/noisy25 --noise awgn --sigma 25\n"
         "  python -c \"from denoisebench.imageio import read_image, write_image; "
         "write_image('view.png', read_image('data/noisy25/kodim01.npy'))\"   # look at one (clipped to 8 bits)",
         "Writes one noisy image per input, named by its stem: float32 .npy (H x W x C, nominal range [0, 1], "
         "unclipped values kept) unless the noisy image is exactly 8-bit (then a lossless PNG), and manifest.json "
         "(noise spec, base seed and each image's seed and file). Read a .npy with numpy.load or "
         "denoisebench.imageio.read_image; view it by writing it as PNG (see the example) or denoise it directly with "
         "`denoisebench denoise --input <output folder>`.")
def cmd_synthesize(args: argparse.Namespace) -> int:
    from denoisebench.imageio import list_images
    from denoisebench.synthesis import MANIFEST, noise_overrides, synthesize_folder

    source, target = Path(args.input), Path(args.output)
    check_apart([("--input", source)], [("--output", target)])
    check_folder_output("--output", target)
    images = list_images(source)
    names = [MANIFEST] + [f"{p.stem}{suffix}" for p in images for suffix in (".npy", ".png")]
    check_replaceable([target / name for name in names], args.overwrite)
    text = noise_text_from_args(args)
    out = synthesize_folder(source, target, text, args.seed, noise_overrides(args.clip, args.quantize),
                            progress=lambda items: progress(items, args, "synthesize", len(images)))
    written = json.loads((out / MANIFEST).read_text(encoding="utf-8"))["images"]
    remember(out, [MANIFEST] + [record["noisy_file"] for record in written])
    print(f"wrote {len(written)} noisy images (float32 .npy, or PNG when exactly 8-bit) and manifest.json to {out} "
          f"({text}, seed {args.seed})")
    return 0


# ------------------------------------------------------------------------------------------------------- score
def _score_setup(p: argparse.ArgumentParser) -> None:
    p.add_argument("--reference", required=True, help="folder of ground-truth images")
    p.add_argument("--restored", required=True, help="folder of restored images, matched to references by file stem "
                   "(png or float .npy)")
    p.add_argument("--protocol", action="append", help="named protocol (default, shave3, ...); repeatable")
    p.add_argument("--json", action="store_true", help="print per-image rows and means as JSON")


@command("score", _score_setup, "PSNR/SSIM of restored images against references (matched by file stem)",
         "denoisebench score --reference data/clean --restored out/ --protocol default --protocol y_shave3")
def cmd_score(args: argparse.Namespace) -> int:
    from denoisebench.metrics import PROTOCOLS
    from denoisebench.scoring import format_scores, score_folders

    names = args.protocol or ["default"]
    unknown = [n for n in names if n not in PROTOCOLS]
    if unknown:
        raise ConfigError(f"--protocol {unknown[0]!r} unknown; valid: {', '.join(sorted(PROTOCOLS))}")
    frame = score_folders(Path(args.reference), Path(args.restored), {n: PROTOCOLS[n] for n in names},
                          track=lambda pairs: progress(pairs, args, "score", total=len(pairs), unit="image"))
    print(format_scores(frame, as_json=args.json))
    return 0


# ----------------------------------------------------------------------------------------------------- denoise
def _checkpoint_of_entry(args: argparse.Namespace, name: str) -> tuple[Any, str | None]:
    """(method, checkpoint) of params.yaml entry ``name``; says on stderr which params file was read."""
    from denoisebench.cli import params_entries
    from denoisebench.config import method_entry
    from denoisebench.errors import UnknownNameError
    from denoisebench.methods import METHODS, build_method
    from denoisebench.stage_support import params_section

    params_file, params, groups = params_entries(args.params)
    if name not in groups:
        where = (f"params entries of {params_file}: {', '.join(sorted(groups))}" if params_file else
                 "no params.yaml found in this folder, its parents or the installed checkout; pass "
                 "--params PATH/params.yaml to use a params entry")
        raise UnknownNameError(f"unknown method {name!r}; valid names: {', '.join(METHODS.names())}; {where}")
    entry = method_entry(params, name)
    with params_section(f"methods.{groups[name]}.{name} of {params_file}"):
        method = build_method(entry.method, entry.config)
    checkpoint = args.checkpoint or (str(params_file.parent / "models" / name / "model.pt")
                                     if method.needs_training else None)
    say(args, f"method {name!r}: params entry methods.{groups[name]}.{name} read from {params_file}"
        + (f"; checkpoint {checkpoint}" if method.needs_training else ""))
    return method, checkpoint


def warn_short_schedule(checkpoint: Path) -> str | None:
    """One warning line when ``summary.json`` beside a checkpoint says it was trained by a short profile."""
    summary_file = checkpoint.parent / "summary.json"
    try:
        summary = json.loads(summary_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    profile = summary.get("profile") if isinstance(summary, dict) else None
    if profile not in SHORT_PROFILES:
        return None
    line = (f"warning: {checkpoint} was trained by the {profile!r} profile ({summary.get('steps')} steps, see "
            f"{summary_file}): a short schedule for checking the pipeline, not the paper's model; train with the "
            "paper profile (params.yaml profile: paper; dvc repro) for real results")
    print(line, file=sys.stderr)
    return line


def _method_from_args(args: argparse.Namespace) -> Any:
    """A registered method name, or a params.yaml entry name (its config and its trained ``models/<entry>``
    checkpoint beside that params.yaml), with its checkpoint loaded (and verified)."""
    from denoisebench.methods import METHODS, build_method

    if args.pretrained:
        if args.method or args.checkpoint:
            raise ConfigError("give either --pretrained NAME or --method (with --checkpoint), not both")
        return build_method("pretrained", {"model": args.pretrained, "weights_root": args.weights_root,
                                           "fetch": True})
    if not args.method:
        raise ConfigError("give --method NAME (a registered method or params.yaml entry) or --pretrained NAME")
    name = args.method
    if name in METHODS:
        method, checkpoint = build_method(name, {}), args.checkpoint
    else:
        method, checkpoint = _checkpoint_of_entry(args, name)
    if method.needs_training:
        if not checkpoint:
            raise ConfigError(f"method {name!r} is learned: pass --checkpoint PATH (e.g. models/<entry>/model.pt "
                              "written by `dvc repro`), or give a params entry name")
        method.load(Path(checkpoint))
        warn_short_schedule(Path(checkpoint))
    return method


def _iterations(method: Any) -> int | None:
    """The optimisation steps a method runs per image (zero-shot methods' ``iterations``), when it says."""
    for source in (getattr(method, "params", None), method.config):
        if isinstance(source, dict) and isinstance(source.get("iterations"), int):
            return source["iterations"]
    return None


def _denoise_pairs(source: Path, target: Path, suffix: str) -> list[tuple[Path, Path]]:
    """(input, output) files: one pair for a file, one per image (``<stem><suffix>`` in ``target``) for a folder."""
    if not source.is_dir():
        return [(source, target)]
    from denoisebench.imageio import list_images

    pairs = [(p, target / f"{p.stem}{suffix}") for p in list_images(source)]
    if not pairs:
        raise ConfigError(f"--input {source}: no images in this folder")
    return pairs


def _denoise_setup(p: argparse.ArgumentParser) -> None:
    p.add_argument("--method", help="registered method (`denoisebench methods`) or params.yaml entry (its trained "
                   "models/<entry>/model.pt is used)")
    p.add_argument("--pretrained", help="a released model (`denoisebench pretrained list`), fetched on demand")
    p.add_argument("--weights-root", default="data/raw/weights",
                   help="where released models are fetched to (default: data/raw/weights)")
    p.add_argument("--input", required=True, help="a noisy image file, or a folder of them; only read")
    p.add_argument("--output", required=True, help="output file (for a file input; its suffix sets the format) or "
                   "folder (for a folder input; created when missing); must not be or overlap --input")
    p.add_argument("--sigma", type=arg_type(SIGMA, "--sigma"),
                   help="noise level (0-255) for non-blind methods; estimated per image if omitted")
    p.add_argument("--checkpoint", help="model.pt of a learned method (default for an entry: models/<entry>/model.pt)")
    p.add_argument("--params", help="params.yaml for entry names (default: the project root's, found by walking "
                                    "up from the current folder to dvc.yaml + params.yaml)")
    p.add_argument("--device", default="auto", help="torch device of learned methods: auto (CUDA when available), "
                   "cpu, cuda, cuda:1, ... (default: auto)")
    p.add_argument("--seed", type=arg_type(SEED, "--seed"), default=0,
                   help="seed of stochastic methods (zero-shot training, dropout ensembles; default: 0)")
    p.add_argument("--suffix", default=".png", help="output suffix for folders: .png (uint8, lossless) or .npy "
                   "(float32); also .tif/.bmp (uint8) and .jpg (lossy) (default: .png)")
    p.add_argument("--overwrite", action="store_true", help="replace existing output files that denoisebench did "
                   "not write (never an input)")


@command("denoise", _denoise_setup, "denoise an image file or a folder with any method",
         "denoisebench denoise --method bm3d --sigma 25 --input noisy/ --output denoised/\n"
         "  denoisebench denoise --method dncnn_color_blind --input photo.png --output photo_denoised.png\n"
         "  denoisebench denoise --pretrained dncnn_color_blind --input noisy/ --output out/ --suffix .npy")
def cmd_denoise(args: argparse.Namespace) -> int:
    """Denoise a file or a folder. Every input is decoded before any output is written, and a folder's outputs
    are written to a temporary folder published only when all images succeeded (nothing partial is left)."""
    from denoisebench.fsutil import atomic_dir
    from denoisebench.imageio import read_image, write_image
    from denoisebench.methods.base import DenoiseContext
    from denoisebench.prediction import denoise_adapted, estimate_sigma_255
    from denoisebench.stage_support import resolve_device

    source, target = Path(args.input), Path(args.output)
    check_apart([("--input", source)], [("--output", target)])
    folder = source.is_dir()
    if folder:
        check_folder_output("--output", target)
        suffix = check_suffix("--suffix", args.suffix)
    else:
        check_suffix("--output", target.suffix or "(none)")
    pairs = _denoise_pairs(source, target, suffix if folder else "")
    check_replaceable([dst for _, dst in pairs], args.overwrite)
    method = _method_from_args(args)
    for src, _ in progress(pairs, args, "check inputs"):  # a corrupt or unsupported file fails before any write
        read_image(src)
    device = resolve_device(args.device)

    def run(src: Path, dst: Path) -> None:
        noisy = read_image(src, warn=False)  # its warnings were printed by the check above
        sigma = args.sigma if args.sigma is not None else estimate_sigma_255(noisy)
        if args.sigma is None:
            say(args, f"{src.name}: no --sigma given; estimated sigma={sigma:.2f} (0-255)")
        steps = StepBar(args, src.name, _iterations(method))
        context = DenoiseContext(sigma=sigma, seed=args.seed, device=device, extra={"step_callback": steps})
        try:
            restored = denoise_adapted(method, noisy, context)
        finally:
            steps.close()
        write_image(dst, restored)

    if not folder:
        run(source, target)  # write_image is atomic
        remember(target.parent, [target.name])
        print(f"{source} -> {target}")
        return 0
    with atomic_dir(target) as tmp:
        for src, dst in progress(pairs, args, f"denoise {args.method or args.pretrained}"):
            run(src, tmp / dst.name)
    remember(target, [dst.name for _, dst in pairs])
    for src, dst in pairs:
        print(f"{src} -> {dst}")
    return 0

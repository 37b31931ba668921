"""GPU readiness check and speed figures of every learned and zero-shot entry, at its ``paper`` profile settings.

    python benchmarks/gpu_check.py                      # CUDA: ~200 steps per learned entry, < 8 minutes
    python benchmarks/gpu_check.py --reduced            # CPU smoke run: demo schedules, 3 steps, tiny images

Standalone: needs PyTorch, numpy, scikit-image and PyYAML (and this checkout's ``src``), not DVC or MLflow; the
training images are scikit-image's bundled photographs, so no dataset has to be downloaded.

Entries are discovered from ``params.yaml`` (``methods.learned`` / ``methods.cascade`` with their ``train.<entry>``
schedules, and the zero-shot ``methods.classical`` entries whose registered method has ``kind == "zero-shot"``), so
a paper's entries are checked as soon as they are in params.yaml. Each learned entry is trained through its own
``train()`` (the generic trainer: its loss hook, AMP, channels-last, noise synthesis) for ``--steps`` steps of its
paper schedule (batch, patch, optimiser); the check asserts that the loss fell, that the network ended on the
device and that the trainer ran there, and records:

- steps/s and patches/s (after ``--warmup`` steps; CUDA synchronised at both ends), peak memory;
- the projected wall time of the full paper schedule (paper iterations / measured steps/s);
- inference: megapixels/s of the entry's ``denoise`` on a ``--size`` x ``--size`` image (what the predict stage
  runs, transfers included; for test-time-adapted methods this is the per-image time with adaptation);
- zero-shot entries: the per-image time of ``denoise`` on a ``--zs-size`` crop with ``--zs-iterations``
  iterations, and that time scaled to the paper profile's iterations (a linear projection).

A ``--budget-s`` wall-clock budget stops starting new entries (those are listed as not run); the zero-shot
entries go first (a few short runs), then the learned ones one method at a time, round-robin, so every method
is measured before a method's variants, cascades last (they start from the models trained here). Entries that cannot
run here (e.g. missing CRF tables for the camera-pipeline noise) are reported with their error, not fatal.
Figures go to ``--json`` (default ``reports/benchmarks/gpu_check.json``) and a table on stdout; the exit status
is 1 when any entry that ran failed a check.
"""

from __future__ import annotations

import argparse
import contextlib
import fnmatch
import json
import os
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any, Callable

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))
os.environ.setdefault("DENOISEBENCH_TRACKING", "0")

#: Keys of a ``train.<entry>.<profile>`` section that choose data, not the schedule.
DATA_KEYS = ("dataset", "split", "limit_images")
#: Iteration-count keys of the zero-shot methods' configs (scaled down for the timing, projected back).
ZS_ITER_KEYS = ("iterations",)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--params", default=str(REPO / "params.yaml"))
    p.add_argument("--profile", default="paper", help="schedules to measure (default: paper)")
    p.add_argument("--device", default=None, help="default: cuda (cpu with --reduced)")
    p.add_argument("--steps", type=int, default=200, help="training steps per learned entry")
    p.add_argument("--warmup", type=int, default=None, help="steps excluded from the timing (default: steps // 5)")
    p.add_argument("--size", type=int, default=512, help="inference image side")
    p.add_argument("--zs-size", type=int, default=256, help="zero-shot image side")
    p.add_argument("--zs-iterations", type=int, default=100, help="zero-shot iterations timed per image")
    p.add_argument("--only", nargs="*", default=None, help="entry name patterns (fnmatch)")
    p.add_argument("--budget-s", type=float, default=420.0, help="stop starting entries after this many seconds")
    p.add_argument("--reduced", action="store_true",
                   help="CPU smoke mode: demo-profile schedules, 3 steps, 64 px inference, 32 px zero-shot")
    p.add_argument("--crf-dir", default=None, help="CBDNet CRF tables for the camera-pipeline noise (default: "
                   "data/raw/CBDNet_CRF, else CBDNet_CRF in the data mirror)")
    p.add_argument("--json", default=str(REPO / "reports" / "benchmarks" / "gpu_check.json"))
    args = p.parse_args(argv)
    if args.reduced:
        args.profile, args.steps, args.size, args.zs_size, args.zs_iterations = "demo", 3, 64, 32, 2
        args.device = args.device or "cpu"
    args.device = args.device or "cuda"
    args.warmup = args.warmup if args.warmup is not None else max(1, args.steps // 5)
    if not 0 < args.warmup < args.steps:
        p.error(f"--warmup {args.warmup} must be between 1 and --steps - 1 ({args.steps - 1})")
    return args


# ----------------------------------------------------------------------------------------------------------------
# discovery


def load_params(path: str, profile: str) -> dict[str, Any]:
    import yaml

    params = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    params["profile"] = profile
    return params


def discover(params: dict[str, Any], only: list[str] | None) -> tuple[list[str], list[str]]:
    """(learned entries with a train schedule, zero-shot entries) of params.yaml, in file order."""
    from denoisebench.methods.base import METHODS
    from denoisebench.papers import load_paper_methods

    load_paper_methods()
    methods = params.get("methods") or {}
    keep = (lambda name: any(fnmatch.fnmatch(name, pat) for pat in only)) if only else (lambda name: True)
    learned = [e for group in ("learned", "cascade") for e in (methods.get(group) or {})
               if e in (params.get("train") or {}) and keep(e)]
    zero_shot = []
    for entry, raw in (methods.get("classical") or {}).items():
        cls = METHODS.get(raw["method"]) if raw.get("method") in METHODS else None
        if cls is not None and getattr(cls, "kind", "") == "zero-shot" and keep(entry):
            zero_shot.append(entry)
    return learned, zero_shot


def round_robin(entries: list[str], method_of: Callable[[str], str]) -> list[str]:
    """Entries reordered so each method comes once before any method comes twice (order kept within a method)."""
    queues: dict[str, list[str]] = {}
    for e in entries:
        queues.setdefault(method_of(e), []).append(e)
    out: list[str] = []
    while any(queues.values()):
        for q in queues.values():
            if q:
                out.append(q.pop(0))
    return out


# ----------------------------------------------------------------------------------------------------------------
# data


def training_images(channels: int, min_side: int) -> list[np.ndarray]:
    """scikit-image's bundled photographs as float32 (H, W, C), grey when ``channels`` is 1, upscaled by pixel
    repetition when smaller than ``min_side``."""
    from skimage import data
    from skimage.color import rgb2gray

    out = []
    for name in ("astronaut", "coffee", "chelsea", "rocket", "immunohistochemistry", "motorcycle_left"):
        loader = getattr(data, name, None)
        if loader is None:
            continue
        with contextlib.suppress(Exception):  # a missing optional sample file is not fatal
            img = np.asarray(loader())
            img = img[..., :3] if img.ndim == 3 else np.repeat(img[..., None], 3, axis=2)
            arr = img.astype(np.float32) / (255.0 if img.dtype == np.uint8 else 1.0)
            arr = rgb2gray(arr)[..., None].astype(np.float32) if channels == 1 else arr
            while min(arr.shape[:2]) < min_side:
                arr = arr.repeat(2, axis=0).repeat(2, axis=1)
            out.append(np.ascontiguousarray(arr))
    if not out:
        raise RuntimeError("scikit-image's sample images are not available (pip install scikit-image)")
    return out


def find_crf_dir(given: str | None) -> str | None:
    """The CBDNet CRF tables folder: ``given``, else this checkout's fetched copy, else the data mirror's."""
    if given:
        return given
    candidates = [REPO / "data" / "raw" / "CBDNet_CRF"]
    with contextlib.suppress(Exception):
        from denoisebench.mirror import data_mirror

        mirror = data_mirror(start=REPO)
        if mirror is not None:
            candidates.append(Path(mirror) / "CBDNet_CRF")
    return next((str(c) for c in candidates if (c / "201_CRF_data.mat").is_file()), None)


# ----------------------------------------------------------------------------------------------------------------
# measurements


class StepClock:
    """Trainer callback: the wall time at the warm-up and last steps (CUDA synchronised) and every logged loss."""

    def __init__(self, warmup: int, last: int, cuda: bool) -> None:
        self.warmup, self.last, self.cuda = warmup, last, cuda
        self.t: dict[int, float] = {}
        self.losses: list[tuple[int, float]] = []

    def __call__(self, step: int, logs: dict[str, float]) -> None:
        if step in (self.warmup, self.last):
            if self.cuda:
                import torch

                torch.cuda.synchronize()
            self.t[step] = time.perf_counter()
        if "loss" in logs:
            self.losses.append((step, float(logs["loss"])))

    def steps_per_s(self) -> float:
        return (self.last - self.warmup) / max(self.t[self.last] - self.t[self.warmup], 1e-9)


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        import torch

        torch.cuda.synchronize()


def time_denoise(method: Any, image: np.ndarray, device: str, sigma: float = 25.0, reps: int = 3) -> float:
    """Seconds per ``denoise`` call (median of ``reps`` after one warm-up call) on ``image`` with AWGN of ``sigma``
    added; the context names the method's :meth:`probe_noise` (a decoder or adaptation may depend on it)."""
    from denoisebench.methods.base import DenoiseContext

    rng = np.random.default_rng(0)
    noisy = (image + rng.normal(0, sigma / 255.0, image.shape)).astype(np.float32)
    context = DenoiseContext(sigma=sigma, noise=method.probe_noise(), seed=0, device=device)
    method.denoise(noisy, context)
    times = []
    for _ in range(reps):
        _sync(device)
        t0 = time.perf_counter()
        method.denoise(noisy, context)
        _sync(device)
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def _entry_method(params: dict[str, Any], entry: str, overrides: dict[str, Any] | None = None) -> Any:
    from denoisebench.config import method_entry
    from denoisebench.methods import build_method

    spec = method_entry(params, entry)
    return build_method(spec.method, {**spec.config, **(overrides or {})}), spec


def check_learned(params: dict[str, Any], paper: dict[str, Any], entry: str, args: argparse.Namespace,
                  workdir: Path, trained: dict[str, Path]) -> dict[str, Any]:
    """Train ``entry`` for ``args.steps`` steps of its ``args.profile`` schedule; measure and check."""
    import torch

    cuda = args.device.startswith("cuda")
    settings = dict(params["train"][entry][args.profile])
    for key in DATA_KEYS:
        settings.pop(key, None)
    overrides: dict[str, Any] = {}
    init = params["methods"].get("cascade", {}).get(entry, {}).get("init_checkpoint")
    if init:  # cascade: start from the model this run trained for the entry it names (models/<entry>/model.pt)
        base = Path(init).parent.name
        if base not in trained:
            raise RuntimeError(f"its init_checkpoint entry {base!r} was not trained in this run")
        overrides["init_checkpoint"] = str(trained[base])
    if "crf_dir" in params["methods"].get("learned", {}).get(entry, {}) and args.crf_dir:
        overrides["crf_dir"] = args.crf_dir
    method, spec = _entry_method(params, entry, overrides)
    channels = int(method.params.get("channels", 3))
    settings = {**type(method).short_schedule(settings, args.steps), "device": args.device}
    images = training_images(channels, int(settings.get("patch_size", 64)))
    clock = StepClock(args.warmup, args.steps, cuda)
    if cuda:
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
    t0 = time.perf_counter()
    method.train(images, workdir / entry, train_config=settings, tracking=None, callbacks=[clock])
    wall = time.perf_counter() - t0
    trained[entry] = workdir / entry / "model.pt"
    summary = torch.load(trained[entry], map_location="cpu", weights_only=True)["summary"]
    devices = sorted({p.device.type for p in method._model.parameters()})
    sps = clock.steps_per_s()
    batch = int(settings.get("batch_size", 0))
    paper_schedule = {k: v for k, v in paper.get("train", {}).get(entry, {}).get("paper", {}).items()
                      if k not in DATA_KEYS}
    paper_iters = type(method).schedule_steps(paper_schedule) if paper_schedule else None
    first, last = clock.losses[0][1], clock.losses[-1][1]
    want = "cuda" if cuda else "cpu"
    checks = {"on_device": devices == [want] and summary["device"].startswith(want)}
    if not args.reduced:  # a few demo steps are too noisy to judge
        checks["loss_fell"] = last < first
    infer = training_images(channels, args.size)[0][: args.size, : args.size]
    per_image = time_denoise(method, infer, args.device)
    return {
        "entry": entry, "method": spec.method, "kind": getattr(method, "kind", ""), "status": "ok"
        if all(checks.values()) else "FAILED", "checks": checks,
        "steps": args.steps, "batch_size": batch, "patch_size": settings.get("patch_size"),
        "amp": bool(settings.get("amp", False)), "channels_last": bool(settings.get("channels_last", True)),
        "steps_per_s": sps, "patches_per_s": sps * batch if batch else None, "wall_s": wall,
        "peak_mem_gib": torch.cuda.max_memory_allocated() / 2**30 if cuda else None,
        "loss_first": first, "loss_last": last,
        "paper_iterations": paper_iters,
        "projected_paper_h": paper_iters / sps / 3600 if paper_iters else None,
        "infer_size": list(infer.shape[:2]), "infer_s": per_image,
        "infer_mp_per_s": infer.shape[0] * infer.shape[1] / 1e6 / per_image,
        "param_devices": devices,
    }


def check_zero_shot(params: dict[str, Any], paper: dict[str, Any], entry: str,
                    args: argparse.Namespace) -> dict[str, Any]:
    """Per-image time of a zero-shot entry at ``args.zs_iterations`` iterations, projected to the paper's."""
    source = params if args.reduced else paper  # reduced: the demo profile's config
    full, spec = _entry_method(source, entry)
    found = {k: full.params[k] for k in ZS_ITER_KEYS if isinstance(getattr(full, "params", {}).get(k), int)}
    overrides = {k: min(args.zs_iterations, v) for k, v in found.items()}
    method, spec = _entry_method(source, entry, overrides)
    paper_method = full if not args.reduced else _entry_method(paper, entry)[0]
    paper_iters = next((paper_method.params[k] for k in found), None)
    run_iters = next((overrides[k] for k in found), None)
    channels = int(method.params.get("channels", 3)) if hasattr(method, "params") else 3
    image = training_images(channels, args.zs_size)[0][: args.zs_size, : args.zs_size]
    seconds = time_denoise(method, image, args.device, reps=1)
    scale = paper_iters / run_iters if paper_iters and run_iters else None
    return {"entry": entry, "method": spec.method, "kind": "zero-shot", "status": "ok",
            "image_size": list(image.shape[:2]), "iterations": run_iters, "per_image_s": seconds,
            "paper_iterations": paper_iters, "projected_paper_per_image_s": seconds * scale if scale else None}


# ----------------------------------------------------------------------------------------------------------------
# report


def _fmt(value: Any, spec: str = ".3g") -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return format(value, spec)
    return str(value)


def table(results: list[dict[str, Any]]) -> str:
    learned = [r for r in results if r.get("kind") != "zero-shot" or "steps_per_s" in r]
    zs = [r for r in results if r.get("kind") == "zero-shot" and "per_image_s" in r]
    other = [r for r in results if r not in learned and r not in zs]
    lines = ["learned entries (training at the schedule's batch/patch; inference = denoise of one image)",
             f"{'entry':24} {'status':7} {'steps/s':>8} {'patch/s':>9} {'mem GiB':>8} {'paper it':>9} "
             f"{'proj. h':>8} {'infer MP/s':>10} {'loss first->last':>18}"]
    for r in learned:
        if "steps_per_s" not in r:
            other.append(r)
            continue
        lines.append(f"{r['entry']:24} {r['status']:7} {_fmt(r['steps_per_s']):>8} {_fmt(r['patches_per_s']):>9} "
                     f"{_fmt(r['peak_mem_gib']):>8} {_fmt(r['paper_iterations']):>9} "
                     f"{_fmt(r['projected_paper_h']):>8} {_fmt(r['infer_mp_per_s']):>10} "
                     f"{_fmt(r['loss_first'], '.3g') + '->' + _fmt(r['loss_last'], '.3g'):>18}")
    if zs:
        lines += ["", "zero-shot entries (per image)",
                  f"{'entry':24} {'size':>9} {'iters':>6} {'s/image':>8} {'paper iters':>11} {'proj. s/image':>13}"]
        lines += [f"{r['entry']:24} {'x'.join(map(str, r['image_size'])):>9} {_fmt(r['iterations']):>6} "
                  f"{_fmt(r['per_image_s']):>8} {_fmt(r['paper_iterations']):>11} "
                  f"{_fmt(r['projected_paper_per_image_s']):>13}" for r in zs]
    if other:
        lines += ["", "not measured"] + [f"{r['entry']:24} {r['status']}: {r.get('error', '')}" for r in other]
    return "\n".join(lines)


def environment(device: str) -> dict[str, Any]:
    import torch

    env = {"torch": torch.__version__, "device": device, "cuda_available": torch.cuda.is_available()}
    if device.startswith("cuda") and torch.cuda.is_available():
        env.update(gpu=torch.cuda.get_device_name(), cuda=torch.version.cuda,
                   gpu_memory_gib=torch.cuda.get_device_properties(0).total_memory / 2**30)
    else:
        env["cpu_threads"] = torch.get_num_threads()
    return env


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    import torch

    if args.device.startswith("cuda") and not torch.cuda.is_available():
        print("error: --device cuda but CUDA is not available; run on a GPU machine or use --reduced (CPU smoke "
              "mode)", file=sys.stderr)
        return 2
    if args.device.startswith("cuda"):
        torch.backends.cudnn.benchmark = True
    args.crf_dir = find_crf_dir(args.crf_dir)
    params = load_params(args.params, args.profile)
    paper = load_params(args.params, "paper")
    learned, zero_shot = discover(params, args.only)
    entries = {**(params["methods"].get("learned") or {}), **(params["methods"].get("cascade") or {})}
    method_of = lambda e: entries.get(e, {}).get("method", e)  # noqa: E731
    cascade = set(params["methods"].get("cascade") or {})
    order = round_robin([e for e in learned if e not in cascade], method_of) + [e for e in learned if e in cascade]
    start = time.perf_counter()
    results: list[dict[str, Any]] = []
    trained: dict[str, Path] = {}
    with tempfile.TemporaryDirectory(prefix="gpu_check_") as tmp:
        jobs = [(e, "zero-shot") for e in zero_shot] + [(e, "learned") for e in order]  # zero-shot: few, short
        for entry, kind in jobs:
            if time.perf_counter() - start > args.budget_s:
                results.append({"entry": entry, "kind": kind, "status": "not run", "error": "time budget spent"})
                continue
            try:
                result = (check_learned(params, paper, entry, args, Path(tmp), trained) if kind == "learned"
                          else check_zero_shot(params, paper, entry, args))
            except Exception as exc:  # one entry's failure is reported, the others still run
                result = {"entry": entry, "kind": kind, "status": "error", "error": f"{type(exc).__name__}: {exc}",
                          "traceback": traceback.format_exc(limit=3)}
            results.append(result)
            print(f"[{time.perf_counter() - start:6.1f}s] {entry}: {result['status']}", file=sys.stderr, flush=True)
    report = {"args": vars(args), "environment": environment(args.device),
              "total_s": time.perf_counter() - start, "results": results}
    out = Path(args.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp_out = out.with_suffix(out.suffix + ".tmp")
    tmp_out.write_text(json.dumps(report, indent=2, default=str) + "\n", encoding="utf-8")
    tmp_out.replace(out)
    if args.reduced:
        print("REDUCED (smoke) mode: demo-profile schedules for a few steps on", args.device,
              "- speeds and projections are not the paper's\n")
    print(table(results))
    print(f"\n{len(results)} entries in {report['total_s']:.0f} s; figures in {out}")
    return 1 if any(r["status"] == "FAILED" for r in results) else 0


if __name__ == "__main__":
    raise SystemExit(main())

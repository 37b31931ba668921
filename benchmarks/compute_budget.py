"""Compute budget of the ``paper`` profile, counted not guessed: writes ``docs/compute-budget.md``.

    python benchmarks/compute_budget.py                 # every entry (~10-20 min on 2 CPU cores)
    python benchmarks/compute_budget.py --only "dncnn*"  # some entries (merged into the cached counts)

How each figure is obtained (all on CPU, no GPU needed):

- **Training FLOPs per step**: each learned/cascade entry is trained through its own ``train()`` (loss hooks,
  noise synthesis, its real network) at its paper schedule's patch size but a batch of 1, for ``1`` and ``1 + K``
  steps under ``torch.utils.flop_counter.FlopCounterMode``; the difference over ``K`` is one step (fixed costs such
  as the final checkpoint cancel; ``K`` = 1, or paper 002's task-cycle length counted after one whole cycle, so
  every task's step is in it once), scaled by the paper batch (FLOPs are
  linear in the batch for these networks). Paper 001 counts its two stages apart (``s1_steps`` and
  ``s2_iterations`` varied in turn).
- **Activation memory**: the bytes of the tensors autograd saves for backward (``saved_tensors_hooks``, each
  storage once, parameters excluded), the peak over the counted run, scaled by the paper batch; plus parameters,
  gradients and optimiser state (Adam 2, SGD-momentum 1 copies). Not counted: cuDNN workspaces, the allocator's
  slack, AMP's casted copies (bf16 halves the activations: the figure is the fp32 upper bound).
- **Test-time and zero-shot methods** (paper 003's per-image training, paper 001's meta-test): FLOPs of one
  ``denoise`` on a ``--crop`` pixel crop at the paper settings with 1 and 2 iterations (the difference is one
  iteration), scaled to the paper's iterations and to the pixels of every paper cell the entry runs on (the
  pipeline's own skip rules; image sizes read from the data mirror).
- **Inference** of trained and released models: FLOPs of ``denoise`` per megapixel times the megapixels of their
  cells (negligible next to training; listed for completeness).
- **Classical methods** (BM3D, NLM, TV, wavelet: CPU only): seconds per megapixel measured here, times the
  megapixels of their cells; reported as CPU-hours of this machine, not as GPU time.

The projection: ``hours = FLOPs / (utilisation x peak)`` on one H100 SXM, with the peak of the precision the
trainer uses (``amp: true`` -> bf16 autocast, 989 TFLOP/s dense; otherwise fp32, 67 TFLOP/s: cuDNN's default TF32
convolutions would be faster, so fp32 rows are an upper bound) and ``--utilisation`` (default 0.35). 8 GPUs
through the DDP path: hours / 8 plus one ring all-reduce of the gradients per step at ``--allreduce-gbs`` (paper
003's and 001's test-time loops cannot use DDP: images in parallel instead, the same / 8).
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))
sys.path.insert(0, str(REPO / "benchmarks"))

import gpu_check  # noqa: E402 - after the sys.path lines above (one copy of discovery, images, CRF lookup)

PEAK_TFLOPS = {"bf16": 989.0, "fp32": 67.0}
#: (images, pixels per image, channels) of test sets no offline mirror holds, from their protocols: SIDD's sRGB
#: validation = 40 images x 32 blocks of 256 x 256. RENOIR's image count and sizes vary by camera: not counted.
DECLARED_SIZES: dict[str, tuple[int, float, int]] = {"sidd_val": (1280, 256.0 * 256.0, 3)}


@dataclass
class Row:
    """One entry's budget (a row of the generated tables)."""

    entry: str
    paper: str
    method: str
    kind: str  # "train", "test-time", "classical", "inference"
    precision: str = "fp32"
    batch: str = ""
    steps: int | None = None
    step_gflop: float | None = None
    train_pflop: float = 0.0
    infer_pflop: float = 0.0
    images: int = 0
    megapixels: float = 0.0
    act_gib: float | None = None
    state_gib: float | None = None
    param_bytes: int = 0
    cpu_h: float | None = None
    ddp: bool = True
    note: str = ""
    parts: dict[str, float] = field(default_factory=dict)

    @property
    def pflop(self) -> float:
        return self.train_pflop + self.infer_pflop


# ---------------------------------------------------------------------------------------------------- counting
class SavedTensors:
    """Peak bytes of the storages autograd keeps for backward (parameters excluded, each storage once)."""

    def __init__(self) -> None:
        self.live: dict[int, list[int]] = {}
        self.current = self.peak = 0

    def pack(self, t: Any) -> Any:
        if t.is_leaf and t.requires_grad:  # a parameter: not activation memory
            return t
        try:
            storage = t.untyped_storage()
            key, nbytes = storage.data_ptr(), storage.nbytes()
        except (RuntimeError, NotImplementedError):
            return t
        slot = self.live.setdefault(key, [0, nbytes])
        if slot[0] == 0:
            self.current += nbytes
            self.peak = max(self.peak, self.current)
        slot[0] += 1
        return _Held(t, key, self)

    @staticmethod
    def unpack(held: Any) -> Any:
        return held.tensor if isinstance(held, _Held) else held

    def release(self, key: int) -> None:
        slot = self.live.get(key)
        if slot is not None:
            slot[0] -= 1
            if slot[0] == 0:
                self.current -= slot[1]
                del self.live[key]


class _Held:
    __slots__ = ("key", "owner", "tensor")

    def __init__(self, tensor: Any, key: int, owner: SavedTensors) -> None:
        self.tensor, self.key, self.owner = tensor, key, owner

    def __del__(self) -> None:
        self.owner.release(self.key)


def counted(fn: Callable[[], Any]) -> tuple[float, int, Any]:
    """(FLOPs, peak saved-activation bytes, result) of ``fn()``."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    saved = SavedTensors()
    with FlopCounterMode(display=False) as counter, torch.autograd.graph.saved_tensors_hooks(saved.pack,
                                                                                             saved.unpack):
        result = fn()
    return float(counter.get_total_flops()), saved.peak, result


# ---------------------------------------------------------------------------------------------------- schedules
def _generic_axes(s: dict[str, Any]) -> list[tuple[str, str, int]]:
    return [("iterations", "batch_size", int(s["iterations"]))]


def _durn_base(s: dict[str, Any]) -> dict[str, Any]:
    """One whole task cycle (its length is the K of the count): every task's step counted once per cycle."""
    return {**s, "iterations": 1, "checkpoint_every": 10**6, "log_every": 10**6, "val_every": 0, "progress": False}


def _meta_axes(s: dict[str, Any]) -> list[tuple[str, str, int]]:
    # stage 1: each epoch = two passes (theta1, mask) of s1_steps batches; one more s1_step adds one of each
    return [("s1_steps", "s1_batch", int(s["s1_epochs"]) * int(s["s1_steps"])),
            ("s2_iterations", "s2_batch", int(s["s2_iterations"]))]


def _meta_base(s: dict[str, Any]) -> dict[str, Any]:
    from denoisebench.papers.p001_meta_tta.schedule import SYNTHETIC_POOL

    return {**s, "s1_epochs": 1, "s1_steps": 1, "s2_iterations": 1, "pool": SYNTHETIC_POOL,
            "checkpoint_every": 10**6, "log_every": 10**6}


#: method -> (count key, batch key, paper count) per schedule axis, and the one-step base schedule.
SCHEDULE_AXES: dict[str, Callable[[dict[str, Any]], list[tuple[str, str, int]]]] = {"meta_tta": _meta_axes}
SCHEDULE_BASE: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {"meta_tta": _meta_base,
                                                                          "durn_mtl": _durn_base}


#: Methods counted on smaller patches than their schedule's (fully convolutional; paper 002's 256 px DuRN steps
#: take minutes of CPU each), scaled back by the patch area.
COUNT_PATCH = {"durn_mtl": 32}


def steps_per_count(method: Any) -> int:
    """Steps of one counted increment: paper 002's task cycle (each task once, in its shuffled order), else 1."""
    schedule = getattr(method, "schedule", None)
    return int(schedule(seed=0).length) if callable(schedule) else 1


def paper_of(code: str | None) -> str:
    """``papers/p003_blind2grad`` -> ``003``; core method modules -> ``core``."""
    if code and code.startswith("papers/p"):
        return code.split("/")[1][1:4]
    return "core"


# ---------------------------------------------------------------------------------------------------- test cells
def dataset_stats(cells: list[Any]) -> dict[tuple[str, str | None], tuple[int, float, int] | None]:
    """(dataset, split) -> (images, mean pixels, channels) read from the data mirror; None when absent here."""
    from denoisebench.config import data_mirror, load_params
    from denoisebench.datasets.loaders import list_samples

    mirror = data_mirror(load_params(REPO / "params.yaml"))
    stats: dict[tuple[str, str | None], tuple[int, float, int] | None] = {}
    for cell in cells:
        key = (cell.dataset, cell.split)
        if key in stats:
            continue
        try:
            shapes = [s.clean().shape for s in list_samples(cell.dataset, mirror, cell.split)]
        except Exception:  # noqa: BLE001 - a set not in the mirror: its declared size, else not counted
            stats[key] = DECLARED_SIZES.get(cell.dataset)
            continue
        stats[key] = (len(shapes), float(np.mean([h * w for h, w, _ in shapes])),
                      shapes[0][2] if shapes else 3)
    return stats


def entry_cells(params: dict[str, Any], spec: Any, kind: str, cells: list[Any],
                stats: dict[tuple[str, str | None], tuple[int, float, int] | None]) -> tuple[int, float, list[str]]:
    """(images, megapixels, cells not counted) of the paper cells ``spec`` runs on (the predict stage's rules)."""
    from denoisebench.noise import parse_noise_spec
    from denoisebench.prediction import CellQuery, skip_reason

    zs_defined = any(c.zeroshot for c in cells)
    images, mp, absent = 0, 0.0, []
    for cell in cells:
        stat = stats.get((cell.dataset, cell.split))
        sigma = None if cell.is_real else parse_noise_spec(cell.noise).params.get("sigma")
        channels = stat[2] if stat else 3
        query = CellQuery(spec, kind, cell, channels, {"sigma": sigma}, zs_defined)
        if skip_reason(query):
            continue
        if stat is None:
            absent.append(cell.key)
            continue
        n = (min(stat[0], cell.limit) if cell.limit else stat[0]) * cell.repeats
        pixels = stat[1] if not cell.crop else min(stat[1], cell.crop**2)
        images += n
        mp += n * pixels / 1e6
    return images, mp, absent


# ---------------------------------------------------------------------------------------------------- entries
def crop_image(channels: int, side: int) -> np.ndarray:
    return gpu_check.training_images(channels, side)[0][:side, :side]


def denoise_flops(method: Any, side: int) -> float:
    """FLOPs of one ``denoise`` of a ``side`` x ``side`` noisy crop (AWGN 25), per megapixel."""
    from denoisebench.methods.base import DenoiseContext

    channels = int(getattr(method, "params", {}).get("channels", 3) or 3)
    image = crop_image(channels, side)
    noisy = (image + np.random.default_rng(0).normal(0, 25 / 255, image.shape)).astype(np.float32)
    context = DenoiseContext(sigma=25.0, noise=method.probe_noise(), seed=0, device="cpu")
    flops, _, _ = counted(lambda: method.denoise(noisy, context))
    return flops / (side * side / 1e6)


def count_learned(params: dict[str, Any], entry: str, workdir: Path, trained: dict[str, Path],
                  crf_dir: str | None, crop: int) -> Row:
    """Training FLOPs per step (batch 1, scaled), steps, activation memory and inference FLOPs of ``entry``."""
    import torch

    raw = {**(params["methods"].get("learned") or {}), **(params["methods"].get("cascade") or {})}[entry]
    overrides: dict[str, Any] = {}
    if raw.get("init_checkpoint"):  # a cascade starts from its base entry's model (trained here if not yet)
        base_entry = Path(raw["init_checkpoint"]).parent.name
        if base_entry not in trained:
            count_learned(params, base_entry, workdir, trained, crf_dir, crop)
        overrides["init_checkpoint"] = str(trained[base_entry])
    if "crf_dir" in raw and crf_dir:
        overrides["crf_dir"] = crf_dir
    method, spec = gpu_check._entry_method(params, entry, overrides)
    schedule = {k: v for k, v in params["train"][entry]["paper"].items() if k not in gpu_check.DATA_KEYS}
    axes = SCHEDULE_AXES.get(spec.method, _generic_axes)(schedule)
    base = SCHEDULE_BASE.get(spec.method, lambda s: type(method).short_schedule(s, 1))(schedule)
    base = {**base, "device": "cpu", **({"num_workers": 0} if "num_workers" in base else {}),
            **{b: 1 for _, b, _ in axes}}
    channels = int(method.params.get("channels", 3))
    patch = max(int(v) for k, v in schedule.items() if k.endswith("patch") or k == "patch_size")
    images = gpu_check.training_images(channels, patch)
    row = Row(entry, paper_of(spec.code), spec.method, "train",
              precision="bf16" if schedule.get("amp") else "fp32",
              batch=" / ".join(f"{schedule[b]}x{patch}" for _, b, _ in axes),
              steps=type(method).schedule_steps(schedule), ddp=True)

    def run(settings: dict[str, Any], tag: str) -> tuple[float, int]:
        flops, peak, _ = counted(lambda: method.train(images, workdir / f"{entry}_{tag}", train_config=settings,
                                                      tracking=None))
        return flops, peak

    area = 1.0
    if spec.method in COUNT_PATCH:  # fully convolutional: FLOPs and activations scale with the patch area
        small = COUNT_PATCH[spec.method]
        area = (int(base["patch_size"]) / small) ** 2
        base["patch_size"] = small
        row.note = f"counted at {small} px patches, x{area:.0f} (patch area)"
    k = steps_per_count(method)
    base = {**base, **{c: int(base[c]) * k for c, _, _ in axes}}  # a whole task cycle (paper 002)
    f0, peak = run(base, "base")
    state_copies = 2 if str(schedule.get("optimizer", "adam")) == "adam" else (
        1 if schedule.get("momentum") else 0)
    step_total, act = 0.0, 0
    for count_key, batch_key, paper_count in axes:
        f1, peak1 = run({**base, count_key: int(base[count_key]) + k}, count_key)
        per_step = (f1 - f0) / k * int(schedule[batch_key]) * area
        row.parts[count_key] = per_step
        row.train_pflop += per_step * paper_count / 1e15
        step_total += per_step
        act = max(act, int(max(peak, peak1) * int(schedule[batch_key]) * area))
    trained[entry] = workdir / f"{entry}_base" / "model.pt"
    model = method._model
    row.param_bytes = sum(p.numel() * p.element_size() for p in model.parameters() if p.requires_grad)
    row.step_gflop = step_total / 1e9 if len(axes) == 1 else None
    row.act_gib = act / 2**30
    row.state_gib = row.param_bytes * (2 + state_copies) / 2**30
    row.parts["infer_per_mp"] = denoise_flops(method, crop)
    if spec.method == "meta_tta":  # the meta-test (K inner steps on each test image) runs in predict
        row.kind, row.ddp = "train + test-time", True
    torch.set_grad_enabled(True)
    return row


def count_zero_shot(params: dict[str, Any], entry: str, crop: int) -> Row:
    """Per-megapixel FLOPs of one image's zero-shot training at the paper settings (1 and 2 iterations)."""
    full, spec = gpu_check._entry_method(params, entry)
    iterations = int(full.params["iterations"])
    f = [denoise_flops(gpu_check._entry_method(params, entry, {"iterations": n})[0], crop) for n in (1, 2)]
    row = Row(entry, paper_of(spec.code), spec.method, "test-time", precision="fp32", steps=iterations, ddp=False)
    row.parts = {"per_mp": f[0] + (iterations - 1) * (f[1] - f[0]), "iteration_per_mp": f[1] - f[0]}
    return row


def time_classical(params: dict[str, Any], entry: str, crop: int) -> Row:
    """Seconds per megapixel of a CPU method on a colour crop (at least 128 px: BM3D's fixed costs would inflate
    a smaller one), measured on this machine."""
    from denoisebench.methods.base import DenoiseContext

    crop = max(crop, 128)
    method, spec = gpu_check._entry_method(params, entry)
    image = crop_image(3, crop)
    noisy = (image + np.random.default_rng(0).normal(0, 25 / 255, image.shape)).astype(np.float32)
    t0 = time.perf_counter()
    method.denoise(noisy, DenoiseContext(sigma=25.0, noise=method.probe_noise(), seed=0, device="cpu"))
    row = Row(entry, paper_of(spec.code), spec.method, "classical", precision="cpu", ddp=False)
    row.parts = {"s_per_mp": (time.perf_counter() - t0) / (crop * crop / 1e6)}
    return row


def count_pretrained(params: dict[str, Any], entry: str, crop: int) -> Row:
    from denoisebench.pretrained import weights_mirror

    mirror = weights_mirror(params=params)  # the released files: from the weights mirror when not fetched here
    method, spec = gpu_check._entry_method(params, entry, {"weights_root": str(mirror)} if mirror else None)
    row = Row(entry, "core", spec.method, "inference", ddp=False)
    row.parts = {"infer_per_mp": denoise_flops(method, crop)}
    return row


# ---------------------------------------------------------------------------------------------------- projection
def finish(row: Row, params: dict[str, Any], cells: list[Any], stats: dict, args: argparse.Namespace) -> None:
    """Add the paper cells' images and FLOPs, and the projected hours."""
    from denoisebench.config import method_entry
    from denoisebench.methods.base import METHODS

    spec = method_entry(params, row.entry)
    kind = getattr(METHODS.get(spec.method), "kind", "")
    row.images, row.megapixels, absent = entry_cells(params, spec, kind, cells, stats)
    if absent:
        row.note = "; ".join(filter(None, [row.note, f"not counted (set absent here): {', '.join(absent)}"]))
    if "per_mp" in row.parts:
        row.train_pflop = row.parts["per_mp"] * row.megapixels / 1e15
    if "infer_per_mp" in row.parts:
        row.infer_pflop = row.parts["infer_per_mp"] * row.megapixels / 1e15
    if "s_per_mp" in row.parts:
        row.cpu_h = row.parts["s_per_mp"] * row.megapixels / 3600


def hours(row: Row, args: argparse.Namespace, gpus: int = 1) -> float | None:
    if row.kind == "classical":
        return None
    rate = args.utilisation * PEAK_TFLOPS.get(row.precision, PEAK_TFLOPS["fp32"]) * 1e12
    h = row.pflop * 1e15 / rate / gpus / 3600
    if gpus > 1 and row.ddp and row.steps and row.kind.startswith("train"):
        h += row.steps * 2 * (gpus - 1) / gpus * row.param_bytes / (args.allreduce_gbs * 1e9) / 3600
    return h


def _f(value: float | None, spec: str = ".3g") -> str:
    return "-" if value is None else format(value, spec)


def render(rows: list[Row], args: argparse.Namespace, wall_s: float, uncounted: list[str]) -> str:
    import torch

    lines = [
        "# Compute budget of the paper profile (generated)",
        "",
        ("Generated by `python benchmarks/compute_budget.py` (issue 23); do not edit by hand. FLOPs and activation "
        "memory are **counted on CPU** (PyTorch's `FlopCounterMode`, autograd's saved tensors) by running each "
        "entry's own training and denoising code at its paper settings, with a batch of 1 scaled to the paper "
        "batch; test-time costs are counted on a "
        f"{args.crop}x{args.crop} crop and scaled to the pixels of the paper cells. **Hours are projections**, not "
        f"measurements: one H100 SXM at {args.utilisation:.0%} of its dense peak for the precision the trainer "
        "uses (`amp: true` = bf16 autocast, 989 TFLOP/s; otherwise fp32, 67 TFLOP/s: an upper bound, since "
        "cuDNN's default TF32 convolutions run faster), 8 GPUs = the same / 8 plus a ring all-reduce of the "
        f"gradients per step at {args.allreduce_gbs:.0f} GB/s (DDP path; test-time methods: images in parallel). "
        "Small per-sample loops (paper 001) and small networks rarely reach that utilisation: read those rows as "
        "lower bounds. Classical methods run on CPU: their column is CPU-hours of the machine that generated this "
        "page. See the module docstring for the method."),
        "",
        f"Counted with torch {torch.__version__} on {torch.get_num_threads()} CPU threads.",
        "",
        "## Per entry",
        "",
        ("| paper | entry | kind | precision | batch x patch | steps | GFLOP/step | PFLOP total | act. GiB | "
        "params+grad+opt GiB | images (MP) | H100 h | 8xH100 h |"),
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in sorted(rows, key=lambda r: (r.paper, r.entry)):
        h1, h8 = hours(r, args), hours(r, args, 8)
        cpu = f" (CPU {r.cpu_h:.1f} h)" if r.cpu_h is not None else ""
        lines.append(f"| {r.paper} | {r.entry} | {r.kind} | {r.precision} | {r.batch or '-'} | {_f(r.steps, 'd') if r.steps else '-'} | "
                     f"{_f(r.step_gflop)} | {_f(r.pflop)} | {_f(r.act_gib)} | {_f(r.state_gib)} | "
                     f"{r.images} ({r.megapixels:.0f}) | {_f(h1, '.2f')}{cpu} | {_f(h8, '.2f')} |")
    by_note: dict[str, list[str]] = {}
    for r in rows:
        for note in filter(None, (r.note or "").split("; ")):
            by_note.setdefault(note, []).append(f"`{r.entry}`")
    notes = [f"- {', '.join(names)}: {note}" for note, names in by_note.items()]
    if uncounted:
        notes.append(f"- **Not counted yet** (absent from the sums below; `--resume` counts them): "
                     f"{', '.join(f'`{e}`' for e in uncounted)}")
    if notes:
        lines += ["", *notes]
    lines += ["", "## Per paper and for the profile", "",
              "| paper | entries | PFLOP | H100 h | 8xH100 h | CPU h (classical) |", "|---|---|---|---|---|---|"]
    for paper in sorted({r.paper for r in rows}) + ["all"]:
        sel = [r for r in rows if paper in ("all", r.paper)]
        h1 = sum(hours(r, args) or 0 for r in sel)
        h8 = sum(hours(r, args, 8) or 0 for r in sel)
        cpu = sum(r.cpu_h or 0 for r in sel)
        lines.append(f"| {paper} | {len(sel)} | {sum(r.pflop for r in sel):.3g} | {h1:.1f} | {h8:.1f} | {cpu:.1f} |")
    lines += ["", "## What to run first on a small budget", "",
              ("The cheapest GPU rows of each paper (projected H100 hours), so that every paper has a paper-scale "
              "row before the expensive ones run:"), ""]
    for paper in sorted({r.paper for r in rows}):
        gpu_rows = sorted((r for r in rows if r.paper == paper and hours(r, args)), key=lambda r: hours(r, args))
        if gpu_rows:
            lines.append(f"- {paper}: " + ", ".join(f"`{r.entry}` ({hours(r, args):.2f} h)" for r in gpu_rows[:3]))
    lines += ["", "A cascade entry (paper 004's `liu_joint_*`) starts from its `liu_separate_*` model: budget both."]
    dominant = max(rows, key=lambda r: hours(r, args) or 0)
    lines += ["", f"The dominant entry is `{dominant.entry}` ({hours(dominant, args):.0f} H100 h of the total).", ""]
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------------- main
def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--params", default=str(REPO / "params.yaml"))
    p.add_argument("--only", nargs="*", help="entry name patterns (others come from the cache, if any)")
    p.add_argument("--resume", action="store_true", help="count only the entries the cache lacks")
    p.add_argument("--crop", type=int, default=64, help="side of the crop test-time costs are counted on")
    p.add_argument("--utilisation", type=float, default=0.35)
    p.add_argument("--allreduce-gbs", type=float, default=300.0, help="ring all-reduce bus bandwidth, GB/s")
    p.add_argument("--cache", default=str(REPO / "reports" / "benchmarks" / "compute_budget.json"))
    p.add_argument("--out", default=str(REPO / "docs" / "compute-budget.md"))
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    import torch

    from denoisebench.config import evaluation_plan, method_entries, method_entry
    from denoisebench.methods.base import METHODS

    torch.manual_seed(0)
    params = gpu_check.load_params(args.params, "paper")
    cells = evaluation_plan(params)
    stats = dataset_stats(cells)
    crf_dir = gpu_check.find_crf_dir(None)
    cache = Path(args.cache)
    done: dict[str, dict[str, Any]] = json.loads(cache.read_text()) if cache.is_file() and (args.only or args.resume) else {}
    done = {e: row for e, row in done.items() if e in method_entries(params)}  # entries since removed or renamed
    keep = (lambda e: any(fnmatch.fnmatch(e, p) for p in args.only)) if args.only else (lambda e: True)
    start = time.perf_counter()
    learned = [e for g in ("learned", "cascade") for e in (params["methods"].get(g) or {})]
    trained: dict[str, Path] = {}
    with tempfile.TemporaryDirectory(prefix="budget_") as tmp:
        slow = [e for e in learned if method_entry(params, e).method in COUNT_PATCH]  # last: minutes of CPU each
        order = [e for e in learned if e not in slow] + list(params["methods"].get("classical") or {}) + slow
        for entry in order:
            if not keep(entry) or (args.resume and entry in done and done[entry]["kind"] != "error"):
                continue
            spec = method_entry(params, entry)
            kind = getattr(METHODS.get(spec.method), "kind", "")
            try:
                if entry in learned:
                    row = count_learned(params, entry, Path(tmp), trained, crf_dir, args.crop)
                elif kind == "zero-shot":
                    row = count_zero_shot(params, entry, args.crop)
                elif spec.method == "pretrained":
                    row = count_pretrained(params, entry, args.crop)
                elif spec.method == "noisy":
                    continue
                else:
                    row = time_classical(params, entry, args.crop)
            except Exception as exc:  # noqa: BLE001 - reported in the table, the others still count
                row = Row(entry, paper_of(spec.code), spec.method, "error", note=f"{type(exc).__name__}: {exc}")
            done[entry] = asdict(row)
            cache.parent.mkdir(parents=True, exist_ok=True)
            cache.write_text(json.dumps(done, indent=1) + "\n", encoding="utf-8")  # an interrupted run resumes
            print(f"[{time.perf_counter() - start:6.0f}s] {entry}: {row.kind} {row.parts}", file=sys.stderr,
                  flush=True)
    rows = []
    for data in done.values():
        row = Row(**data)
        if row.kind != "error":
            finish(row, params, cells, stats, args)
        rows.append(row)
    uncounted = [e for e in order if e not in done and method_entry(params, e).method != "noisy"]
    Path(args.out).write_text(render(rows, args, time.perf_counter() - start, uncounted), encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

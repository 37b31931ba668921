"""Evidence classes and verdicts of reported cells: what a reproduced number rests on, and whether it counts as a
reproduction.

The class of a result is derived from its data (``meta.json``'s ``kind`` and ``profile``), never hand-labelled:

- *paper schedule*: trained (or optimised per image) by the benchmark under the ``paper`` profile;
- *GPU window*: the same code at the ``paper`` profile's settings, run by ``benchmarks/gpu_window.py`` in a short GPU
  window and imported into ``windows/`` (its rows are named ``<entry>@<window>``, beside the pipeline's own). It ranks
  below *paper schedule* because its numbers did not pass through the pipeline's build record (the window's commit is
  recorded, not the fingerprint of every input), and above *released weights* because it is the benchmark's own
  training at the paper's schedule, which is what a reproduction claims. A window from a modified checkout (dirty
  tree) or a CPU test import (``--allow-cpu``) is never a reproduction;
- *released weights*: the authors' released model (``kind: pretrained``) run through the benchmark's noise and metric;
- *classical*: no training at all (``kind: classical`` or ``identity``);
- *short schedule*: trained under ``quick``/``demo``: a computed number, never a reproduction.

A paper may also declare components of its code *checked against official code* (``Paper.official_checks``): that
qualifies the rows of the paper's own entries, it does not change their class.

A cell is *reproduced* when its class has a tolerance, its value averages the full test set on full images, and
``|Δ| <= tolerance``; any other value is *computed*; a cell without a value is *missing*, with a reason.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from denoisebench.tables.loader import CellMatch, EntryResult, ResultSet
from denoisebench.tables.windows import window_label, window_of


@dataclass(frozen=True)
class EvidenceClass:
    """One evidence class: ``rank`` orders them (0 = strongest); ``tolerance`` (dB) makes a cell reproduced,
    ``None`` when the class never reproduces a cell."""

    key: str
    label: str
    rank: int
    tolerance: float | None
    meaning: str


PAPER_SCHEDULE = EvidenceClass("paper_schedule", "paper schedule", 0, 0.1,
                               "trained by the benchmark on the paper's schedule, `paper` profile")
GPU_WINDOW = EvidenceClass("gpu_window", "paper settings, GPU window", 1, 0.1,
                           "the `paper` profile's settings run by `benchmarks/gpu_window.py` in a short GPU window, "
                           "imported into `windows/` with its GPU, time and commit (rows `<entry>@<window>`)")
RELEASED_WEIGHTS = EvidenceClass("released_weights", "released weights", 2, 0.1,
                                 "the authors' released model run through the benchmark's noise and metric")
CLASSICAL = EvidenceClass("classical", "classical", 3, 0.3, "no training: a classical method or the noisy input")
SHORT_SCHEDULE = EvidenceClass("short_schedule", "short schedule", 4, None,
                               "trained on a shortened schedule, `quick`/`demo` profile: computed, never a reproduction")

#: Every class, strongest first.
CLASSES: tuple[EvidenceClass, ...] = (PAPER_SCHEDULE, GPU_WINDOW, RELEASED_WEIGHTS, CLASSICAL, SHORT_SCHEDULE)
#: ``meta.json`` kinds that involve no training.
UNTRAINED_KINDS = frozenset({"classical", "identity"})
#: ``meta.json`` kind of the authors' released models.
RELEASED_KIND = "pretrained"

REPRODUCED, COMPUTED, MISSING_CELL = "reproduced", "computed", "missing"


def evidence_class(entry: EntryResult) -> EvidenceClass:
    """The class of ``entry``'s results, from its kind and profile (a window row: :data:`GPU_WINDOW`)."""
    if window_of(entry) is not None:
        return GPU_WINDOW
    kind = str(entry.meta.get("kind") or "")
    if kind == RELEASED_KIND:
        return RELEASED_WEIGHTS
    if kind in UNTRAINED_KINDS:
        return CLASSICAL
    return PAPER_SCHEDULE if entry.profile == "paper" else SHORT_SCHEDULE


def evidence_label(entry: EntryResult) -> str:
    """The class label of ``entry``, with the GPU, date and commit for a window row
    (``"paper settings, GPU window NVIDIA H100 80GB HBM3 2026-12-06 @abc1234"``)."""
    cls = evidence_class(entry)
    window = window_of(entry)
    return cls.label if window is None else f"{cls.label} {window_label(window)}"


def window_reasons(entry: EntryResult) -> list[str]:
    """Why a window row can never be a reproduction (``[]`` for a clean GPU window and for pipeline rows)."""
    window = window_of(entry)
    if window is None:
        return []
    reasons = []
    if not window.get("gpu"):
        reasons.append("CPU test import (`--allow-cpu`)")
    if window.get("dirty"):
        reasons.append("window run from a modified checkout (dirty tree)")
    return reasons


def best_match(results: ResultSet, entries: list[str], testset: str, noise: str,
               image: str | None = None) -> CellMatch | None:
    """Of ``entries`` with a result for the cell, the one of the strongest class (listed order breaks ties)."""
    found = []
    for order, name in enumerate(entries):
        entry = results.get(name)
        match = entry.match(testset, noise, image) if entry is not None else None
        if match is not None:
            found.append((evidence_class(entry).rank, order, match))
    return min(found, key=lambda item: item[:2])[2] if found else None


def incomplete(match: CellMatch, image: str | None = None, testset: str | None = None) -> str:
    """Why ``match`` does not cover the full test set ``testset`` on full images (``""`` when it does): a stand-in
    dataset under the test set's name, centre crops, or a subset of the images."""
    spec = match.spec
    if testset is not None and spec.get("dataset") not in (None, testset):
        return f"stand-in data ({spec['dataset']} for {testset})"
    if spec.get("crop") is not None:
        return f"{spec['crop']} px centre crops"
    if image is None and match.entry.is_subset(match.set_name, match.noise):
        n = match.summary.get("n_images")
        return f"{int(n) if isinstance(n, (int, float)) else '?'} images of the test set"
    return ""


@dataclass(frozen=True)
class Verdict:
    """A reported cell judged: ``status`` is reproduced/computed/missing; ``why`` says why it is not reproduced."""

    status: str
    why: str
    cls: EvidenceClass | None = None
    match: CellMatch | None = None
    value: float | None = None
    delta: float | None = None


def judge(match: CellMatch, value: Any, reported: float, image: str | None = None,
          testset: str | None = None) -> Verdict:
    """The verdict of a reproduced ``value`` against ``reported`` on reported test set ``testset`` (see the module
    docstring)."""
    cls = evidence_class(match.entry)
    if not isinstance(value, (int, float)) or isinstance(value, bool) or math.isnan(value):
        return Verdict(MISSING_CELL, "metric not computed", cls, match)
    delta = float(value) - reported
    reasons = []  # every reason, the strongest first (the pages' status line counts the first)
    if cls.tolerance is None:
        reasons.append(f"{cls.label} (`{match.entry.profile}`)")
    reasons += window_reasons(match.entry)
    if part := incomplete(match, image, testset):
        reasons.append(f"on {part}")
    if cls.tolerance is not None and not abs(delta) <= cls.tolerance:
        reasons.append(f"Δ outside ±{cls.tolerance:g} dB")
    if not reasons:
        return Verdict(REPRODUCED, "", cls, match, float(value), delta)
    return Verdict(COMPUTED, "; ".join(reasons), cls, match, float(value), delta)


def tolerance_text() -> str:
    """The tolerance rule in one sentence."""
    by_tolerance: dict[float, list[str]] = {}
    for c in CLASSES:
        if c.tolerance is not None:
            by_tolerance.setdefault(c.tolerance, []).append(c.label)
    parts = [f"{tol:g} dB for {' and '.join(labels)} rows" for tol, labels in by_tolerance.items()]
    return ("A cell is *reproduced* when |Δ| <= " + ", ".join(parts) + ", on the full test set and full images; "
            "every other number is *computed*.")


def classes_text() -> str:
    """The classes, strongest first, as one markdown sentence."""
    return "Evidence, strongest first: " + "; ".join(f"*{c.label}*: {c.meaning}" for c in CLASSES) + "."

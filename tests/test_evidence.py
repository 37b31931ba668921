"""Evidence classes and verdicts of reported cells (denoisebench.tables.evidence / cells) and what the pages show."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from test_tables import _metrics, _set, add_entry

from denoisebench.papers import find_paper
from denoisebench.tables import load_results, write_paper_tables
from denoisebench.tables.evidence import (
    CLASSICAL,
    PAPER_SCHEDULE,
    RELEASED_WEIGHTS,
    SHORT_SCHEDULE,
    evidence_class,
    judge,
)
from denoisebench.tables.loader import CellMatch, EntryResult

REFS = Path(__file__).resolve().parents[1] / "references"


def _entry(kind: str, profile: str, n: int = 24, sets: dict | None = None) -> EntryResult:
    meta = {"entry": "e", "method": "e", "kind": kind, "profile": profile, "sets": sets or {}}
    return EntryResult("e", meta, {"kodak24": {"awgn_sigma25": _metrics(30.0, 0.8, n)}})


@pytest.mark.parametrize(("kind", "profile", "expected"), [
    ("supervised", "paper", PAPER_SCHEDULE), ("zero-shot", "paper", PAPER_SCHEDULE),
    ("supervised", "quick", SHORT_SCHEDULE), ("meta-learning", "demo", SHORT_SCHEDULE),
    ("pretrained", "quick", RELEASED_WEIGHTS), ("classical", "quick", CLASSICAL), ("identity", "demo", CLASSICAL),
])
def test_class_comes_from_kind_and_profile(kind: str, profile: str, expected) -> None:
    assert evidence_class(_entry(kind, profile)) is expected


def test_verdict_needs_the_class_tolerance_and_the_full_test_set() -> None:
    full = CellMatch(_entry("pretrained", "quick"), "kodak24", "awgn_sigma25")
    assert judge(full, 30.0, 29.95).status == "reproduced"  # 0.05 dB <= 0.1
    assert judge(full, 30.0, 29.85).why == "Δ outside ±0.1 dB"
    classical = CellMatch(_entry("classical", "quick"), "kodak24", "awgn_sigma25")
    assert judge(classical, 30.0, 29.75).status == "reproduced"  # 0.25 dB <= 0.3
    subset = CellMatch(_entry("pretrained", "paper", n=4), "kodak24", "awgn_sigma25")
    assert (judge(subset, 30.0, 30.0).status, judge(subset, 30.0, 30.0).why) == \
        ("computed", "on 4 images of the test set")
    crops = CellMatch(_entry("supervised", "paper", sets={"kodak24": _set("kodak24", crop=128)}), "kodak24",
                      "awgn_sigma25")
    assert judge(crops, 30.0, 30.0).why == "on 128 px centre crops"
    short = CellMatch(_entry("supervised", "quick"), "kodak24", "awgn_sigma25")
    assert judge(short, 30.0, 30.0).status == "computed"  # never a reproduction, even at Δ = 0


def test_paper_001_page_shows_official_checks_and_stand_in_meta_test(tmp_path: Path) -> None:
    results = tmp_path / "results"
    add_entry(results, "meta_tta_official", {"cc15": {"real": _metrics(33.0, 0.9, 4)}}, profile="quick",
              kind="meta-learning")
    metatest = tmp_path / "reports" / "paper_001" / "metatest"
    metatest.mkdir(parents=True)
    with open(metatest / "per_image.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["entry", "testset", "image", "protocol", "psnr_before", "psnr_after", "gain_db",
                         "ssim_before", "ssim_after", "adapt_seconds", "updates"])
        writer.writerow(["meta_tta_official", "cc15", "a", "ttaid", 33.0, 33.5, 0.5, 0.90, 0.91, 1.0, 4])
        writer.writerow(["meta_tta_official", "cc15", "b", "ttaid", 34.0, 34.1, 0.1, 0.92, 0.92, 1.0, 4])
    pages = tmp_path / "reports" / "papers"
    write_paper_tables(results, REFS, pages)
    text = (pages / "001.md").read_text(encoding="utf-8")
    summary = text.split("## Summary")[1].split("## Checked against official code")[0]
    assert "no result on their test set (sidd_small_polyu_val_split, nam)" in summary
    stand_in = summary.split("### Meta-test on stand-in data")[1]
    assert "short schedule (`quick`) on stand-in data" in stand_in
    # reported 39.2653 for Nam after meta-test; CC15 mean after = 33.80
    assert "| Ours with meta-testing | nam | 39.2653 | 0.9685 | `meta_tta_official` (after meta-test) | cc15 | 33.8000 |" \
        in stand_in
    checks = text.split("## Checked against official code")[1].split("\n## ")[0]
    paper = find_paper("001")
    assert len(paper.official_checks) == 5 and all(c.commit[:12] in checks for c in paper.official_checks)
    assert "| MAXL look-ahead mask gradient |" in checks and "| 1.6e-19 (float64) | `tests/test_conformance_p001.py` |" \
        in checks
    assert load_results(results).get("meta_tta_official") is not None


def test_official_checks_name_files_of_the_reference_snapshot() -> None:
    reference = Path(__file__).resolve().parents[2] / "shared" / "reference"
    if not reference.is_dir():
        pytest.skip(f"{reference} is absent (the official code snapshots live in ../shared/reference)")
    manifest = (reference / "MANIFEST.md").read_text(encoding="utf-8")
    for number in ("001", "002"):
        for check in find_paper(number).official_checks:
            assert check.commit in manifest, check
            assert (Path(__file__).parent / Path(check.test).name).is_file(), check.test
            first, *siblings = check.official.split(" (")[0].split(", ")
            paths = [reference / first, *((reference / first).parent / name for name in siblings)]
            assert all(p.is_file() for p in paths), (check.component, paths)


def test_a_stand_in_set_under_the_test_sets_name_is_not_the_test_set() -> None:
    entry = EntryResult("e", {"entry": "e", "method": "e", "kind": "supervised", "profile": "quick",
                              "sets": {"gopro": _set("cbsd68", crop=192)}},
                        {"gopro": {"motion_blur": _metrics(28.9, 0.8, 68)}})
    verdict = judge(CellMatch(entry, "gopro", "motion_blur"), 28.9, 28.91, testset="gopro")
    assert verdict.status == "computed"  # every reason, the class first
    assert verdict.why == "short schedule (`quick`); on stand-in data (cbsd68 for gopro)"

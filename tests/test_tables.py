"""Result tables from a small synthetic results tree (the RESULTS CONTRACT) and the committed references/."""

from __future__ import annotations

import csv
import importlib.util
import json
import re
from pathlib import Path

import pytest

from denoisebench.errors import ConfigError
from denoisebench.tables import ResultsFormatError, load_results, write_paper_tables, write_results_md

REPO = Path(__file__).resolve().parents[1]
REFS = REPO / "references"
PER_IMAGE_HEADER = ["entry", "method", "testset", "noise", "image", "psnr", "ssim", "psnr_shave3", "ssim_shave3",
                    "seconds"]


def _metrics(psnr: float, ssim: float, n: int, shave: float = 0.0) -> dict:
    return {"psnr": psnr, "ssim": ssim, "psnr_shave3": psnr + shave, "ssim_shave3": ssim, "n_images": n,
            "sec_per_image": 0.25}


def add_entry(root: Path, name: str, metrics: dict, *, profile: str = "paper", method: str | None = None,
              limit: int | None = None, choices: tuple[str, ...] = (), per_image: list | None = None,
              sets: dict | None = None, kind: str = "classical") -> None:
    """Write one entry of the results contract under ``root`` (``sets``: the optional per-set meta)."""
    (root / "metrics").mkdir(parents=True, exist_ok=True)
    (root / "metrics" / f"{name}.json").write_text(json.dumps(metrics))
    scores = root / "scores" / name
    scores.mkdir(parents=True, exist_ok=True)
    meta = {"entry": name, "method": method or name, "paper": "baseline", "kind": kind, "profile": profile,
            "protocol": {"quant": "round"}, "protocol_text": "RGB uint8 rounded, whole image",
            "protocol_text_shave3": "RGB uint8 rounded, 3 px shaved", "choices": list(choices),
            "limit_images": limit, "train": {}, "git_rev": "0123456789abcdef"}
    if sets is not None:
        meta["sets"] = sets
    (scores / "meta.json").write_text(json.dumps(meta))
    if per_image is not None:
        with open(scores / "per_image.csv", "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(PER_IMAGE_HEADER)
            writer.writerows([name, method or name, *row] for row in per_image)


def _set(dataset: str, *, crop: int | None = None, limit: int | None = None, split: str | None = None) -> dict:
    return {"dataset": dataset, "split": split, "crop": crop, "limit_images": limit, "repeats": 1}


def _patch_meta(root: Path, entry: str, **changes) -> None:
    path = root / "scores" / entry / "meta.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), **changes}))


def _cell(section: str, row_start: str, header: str) -> str:
    """The cell in column ``header`` of the first table row of ``section`` that starts with ``row_start``."""
    blocks, block = [], []
    for line in section.splitlines() + [""]:
        if line.startswith("|"):
            block.append(line)
        elif block:
            blocks.append(block)
            block = []
    for lines in blocks:
        row = next((line for line in lines[2:] if line.startswith(row_start)), None)
        if row is not None:
            headers = [c.strip() for c in lines[0].strip().strip("|").split(" | ")]
            cells = [c.strip() for c in row.strip().strip("|").split(" | ")]
            return cells[headers.index(header)]
    raise AssertionError(f"no row starting with {row_start!r}")


@pytest.fixture()
def results(tmp_path: Path) -> Path:
    root = tmp_path / "results"
    add_entry(root, "bm3d", {"kodak24": {"awgn_sigma25": _metrics(31.50123, 0.8612, 24, 0.07)},
                             "cbsd68": {"awgn_sigma50": _metrics(27.2, 0.7701, 5)}},
              profile="quick", limit=5, choices=["bm3d 4.x profile 'np' instead of the 2007 binary"],
              per_image=[["kodak24", "awgn_sigma25", "kodim01.png", 29.0, 0.80, 29.1, 0.8, 1.0],
                         ["kodak24", "awgn_sigma35", "kodim17.png", 31.2, 0.85, 31.3, 0.85, 1.0]])
    add_entry(root, "dncnn_color_blind", {"kodak24": {"awgn_sigma25": _metrics(32.40, 0.883, 24)}}, method="dncnn",
              kind="supervised")
    add_entry(root, "noisy", {"kodak24": {"awgn_sigma25": _metrics(20.17, 0.41, 24)}})
    add_entry(root, "zzz_bad_denoiser", {"kodak24": {"awgn_sigma25": _metrics(18.0, 0.3, 24)}})
    return root


def test_results_md(results: Path, tmp_path: Path) -> None:
    out = write_results_md(results, tmp_path / "reports" / "results.md")
    text = out.read_text(encoding="utf-8")
    assert "not a reproduction of any paper number" in text
    section = text.split("### kodak24 · awgn_sigma25")[1].split("###")[0]
    rows = [line for line in section.splitlines() if line.startswith("| ") and "`" in line]
    order = [re.search(r"`([a-z_0-9]+)`", row).group(1) for row in rows]
    assert order == ["dncnn_color_blind", "bm3d", "zzz_bad_denoiser", "noisy"]  # noisy is the floor
    assert rows[-1].startswith("| floor |")
    assert "| 32.40 | 0.8830 | 32.40 |" in rows[0]
    assert "31.50 | 0.8612 | 31.57" in rows[1] and "`quick`" in rows[1] and "[1]" in rows[1]
    assert "| `quick` | classical | a |" in rows[1] and "| `paper` | paper schedule | a |" in rows[0]
    assert "[1] `bm3d`: bm3d 4.x profile 'np' instead of the 2007 binary" in section
    assert "protocol (a): RGB uint8 rounded, whole image; shaved columns: RGB uint8 rounded, 3 px shaved" in section
    cbsd = text.split("### cbsd68 · awgn_sigma50")[1]
    assert "5 (subset)" in cbsd
    assert not [p for p in out.parent.iterdir() if ".tmp" in p.name]


def test_results_md_without_results(tmp_path: Path) -> None:
    text = write_results_md(tmp_path / "nothing", tmp_path / "results.md").read_text(encoding="utf-8")
    assert "No results yet" in text


def test_paper_tables_004(results: Path, tmp_path: Path) -> None:
    out = tmp_path / "papers"
    written = write_paper_tables(results, REFS, out)
    assert sorted(p.name for p in written) == ["000.md", "001.md", "002.md", "003.md", "004.md", "index.md"]
    text = (out / "004.md").read_text(encoding="utf-8")
    table2 = text.split("## Table II")[1].split("## Table III")[0]
    averages = table2.split("### Per image")[0]
    cbm3d = next(line for line in averages.splitlines() if line.startswith("| CBM3D → `bm3d`"))
    # reported 31.81; reproduced 31.50123 -> Δ -0.31; shaved 31.57123 -> Δ -0.24; quick profile tagged.
    assert "| 31.81 | 31.50 (Δ -0.31) [quick] | 31.57 (Δ -0.24) [quick] |" in cbm3d
    dncnn = next(line for line in averages.splitlines() if line.startswith("| DnCNN → `dncnn_pub_color_blind`"))
    assert "| 32.35 | 32.40 (Δ +0.05) [from dncnn_color_blind] | 32.40 (Δ +0.05) [from dncnn_color_blind] |" in dncnn
    assert dncnn.count("—") == 4  # sigma 35 and 50 not reproduced
    mcwnnm = next(line for line in averages.splitlines() if line.startswith("| MCWNNM |"))
    assert mcwnnm.split("|")[2].strip() == "31.35" and mcwnnm.split("|")[3].strip() == "—"
    # per-image table: kodim01 at sigma 25, and the suspect image-17 CBM3D cell at sigma 35
    per25 = table2.split("### Per image: Kodak24, σ=25")[1].split("###")[0]
    row01 = next(line for line in per25.splitlines() if line.startswith("| kodim01 |"))
    assert "| 29.13 |" in row01 and "29.00 (Δ -0.13) [quick]" in row01 and "29.10 (Δ -0.03) [quick]" in row01
    per35 = table2.split("### Per image: Kodak24, σ=35")[1].split("###")[0]
    row17 = next(line for line in per35.splitlines() if line.startswith("| kodim17 |"))
    assert "30.64\\*" in row17 and "31.20 (Δ +0.56\\*) [quick]" in row17
    assert "`semantic_denoise-0270`" in table2 and "image 16" in table2
    table3 = text.split("## Table III")[1].split("## Table IV")[0]
    cbm3d3 = next(line for line in table3.splitlines() if line.startswith("| CBM3D → `bm3d`"))
    assert "27.20 (Δ -0.18) [quick, 5/68 img]" in cbm3d3
    assert "limit_images" in text
    assert "RGB uint8 rounded, 3 px shaved" in text
    # the page opens with the evidence of every reported average cell: the paper's method apart from baselines
    summary = text.split("## Summary")[1].split("## Table I")[0]
    assert "**1 of 82** reported average cells reproduced within tolerance; 2 computed only (1 Δ outside ±0.3 dB, " \
           "1 on 5 images of the test set); 79 missing" in summary
    baselines = summary.split("### Baselines")[1]
    assert ("| Table II | DnCNN | Kodak24, σ=25 | psnr | 32.35 | 32.40 | +0.05 | paper schedule | reproduced | "
            "`dncnn_color_blind` |") in baselines  # the paper profile on all 24 images, within 0.1 dB
    assert ("| Table II | CBM3D | Kodak24, σ=25 | psnr | 31.81 | 31.50 | -0.31 | classical | computed: Δ outside ±0.3 dB "
            "| `bm3d` [quick] |") in baselines  # classical: the profile does not matter, the tolerance does
    assert ("| Table III | CBM3D | CBSD68, σ=50 | psnr | 27.38 | 27.20 | -0.18 | classical | computed: on 5 images "
            "of the test set | `bm3d` [quick, 5/68 img] |") in baselines
    own = summary.split("### The paper's own method(s)")[1].split("### Baselines")[0] \
        if "### The paper's own method(s)" in summary else ""
    assert "Proposed" not in own and "MCWNNM (6 cells)" in summary  # not run / not implemented
    assert text.index("## Summary") < text.index("## Table I") < text.index("## Caveats") \
        < text.index("## Reproduction status")
    caveats = text.split("## Caveats")[1].split("## Reproduction status")[0]
    # bm3d is classical: its quick-profile caveat is the image subset, not the profile
    assert "**Profile `quick`**" not in caveats and "`bm3d`" in caveats.split("**Image subsets**")[1]


def test_paper_tables_003_and_unmapped_papers(results: Path, tmp_path: Path) -> None:
    out = tmp_path / "papers"
    write_paper_tables(results, REFS, out)
    text = (out / "003.md").read_text(encoding="utf-8")
    table3 = text.split("## Table 3")[1].split("## Table 4")[0]
    kodak25 = next(line for line in table3.splitlines() if line.startswith("| Kodak24 | σ=25 |"))
    assert "31.87† / 0.868†" in kodak25
    assert _cell(table3, "| Kodak24 | σ=25 |", "BM3D → `bm3d` reproduced (Δ)") == \
        "31.50 / 0.861 (Δ -0.37† / -0.007†) [quick]"
    assert _cell(table3, "| Kodak24 | σ=50 |", "BM3D → `bm3d` reproduced (Δ)") == "—"
    assert _cell(table3, "| Kodak24 | σ=25 |", "Ours → `blind2grad` reproduced (Δ)") == "—"
    assert "copied from prior work" in table3 and "`blind2grad-0309`" in table3
    assert "raw-RGB BM3D, N2N and Ne2Ne cells" in text  # Table 5 caveat from the table notes
    page1 = (out / "001.md").read_text(encoding="utf-8")  # paper 001 (issue 12): mapped, no result in the fixture
    assert "Ours with meta-testing → `meta_tta_official`" in page1
    page0 = (out / "000.md").read_text(encoding="utf-8")
    assert "32.07 / 0.98" in page0 and "RENOIR" in page0


def test_paper_tables_without_results(tmp_path: Path) -> None:
    out = tmp_path / "papers"
    write_paper_tables(tmp_path / "no_results", REFS, out)
    text = (out / "004.md").read_text(encoding="utf-8")
    assert "not run yet" in text and "| 31.81 | — | — |" in text


@pytest.mark.parametrize(("mutate", "message"), [
    (lambda r: (r / "metrics" / "bm3d.json").write_text("[1, 2]"), "bm3d.json: top level must be an object"),
    (lambda r: (r / "metrics" / "bm3d.json").write_text('{"kodak24": {"awgn_sigma25": {"psnr": "high", '
                                                         '"n_images": 3}}}'), "metric values must be numbers"),
    (lambda r: (r / "metrics" / "bm3d.json").write_text('{"kodak24": {"awgn_sigma25": {"ssim": 0.5}}}'),
     r"bm3d.json: \['kodak24'\]\['awgn_sigma25'\] lacks \['psnr', 'n_images'\]"),
    (lambda r: (r / "metrics" / "bm3d.json").write_text('{"kodak24": [1]}'), "bm3d.json: \\['kodak24'\\]"),
    (lambda r: (r / "metrics" / "bm3d.json").write_text("{oops"), "bm3d.json is not valid JSON"),
    (lambda r: (r / "scores" / "bm3d" / "meta.json").unlink(), "meta.json is missing"),
    (lambda r: (r / "scores" / "bm3d" / "meta.json").write_text('{"entry": "bm3d", "method": "bm3d", '
                                                                '"profile": "fast"}'), "profile 'fast'"),
    (lambda r: (r / "scores" / "bm3d" / "per_image.csv").write_text("entry,psnr\nbm3d,30\n"),
     "per_image.csv lacks columns"),
    (lambda r: _patch_meta(r, "bm3d", sets=["kodak24"]), "meta.json: 'sets' must be an object"),
    (lambda r: _patch_meta(r, "bm3d", sets={"k": {"crop": 128}}), r"meta.json: sets\['k'\] must be an object with"),
    (lambda r: _patch_meta(r, "bm3d", sets={"k": _set("kodak24", crop=0)}),
     r"meta.json: sets\['k'\]: 'crop' must be a positive integer"),
    (lambda r: _patch_meta(r, "bm3d", sets={"k": {**_set("kodak24"), "split": 3}}), r"sets\['k'\]: 'split' must be"),
])
def test_bad_results_name_the_file(results: Path, tmp_path: Path, mutate, message) -> None:
    mutate(results)
    with pytest.raises(ResultsFormatError, match=message):
        load_results(results)
    with pytest.raises(ResultsFormatError, match="bm3d"):
        write_results_md(results, tmp_path / "results.md")
    assert not (tmp_path / "results.md").exists()


def test_stage_entry_point(results: Path, tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location("tables_stage", REPO / "stages" / "tables.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    out = tmp_path / "reports"
    assert module.main(["--results", str(results), "--references", str(REFS), "--out", str(out)]) == 0
    assert (out / "results.md").is_file() and (out / "papers" / "004.md").is_file()
    index = (out / "papers" / "index.md").read_text(encoding="utf-8")
    assert "| [004](004.md) | semantic_denoise |" in index and "**1 of 82** reported average cells" in index


def test_infinite_psnr_and_train_summary(tmp_path: Path) -> None:
    root = tmp_path / "results"
    add_entry(root, "oracle", {"demo": {"awgn_sigma25": {"psnr": float("inf"), "ssim": 1.0, "n_images": 2,
                                                         "sec_per_image": None}}}, profile="demo")
    add_entry(root, "noisy", {"demo": {"awgn_sigma25": _metrics(20.0, 0.4, 2)}}, profile="demo")
    meta_path = root / "scores" / "oracle" / "meta.json"
    meta = json.loads(meta_path.read_text())
    meta["train"] = {"iters": 200, "loss_curve": [1.0, 0.5]}
    meta_path.write_text(json.dumps(meta))
    text = write_results_md(root, tmp_path / "results.md").read_text(encoding="utf-8")
    rows = [line for line in text.split("### demo · awgn_sigma25")[1].splitlines() if line.startswith("| ")][2:]
    assert rows[0].startswith("| 1 | `oracle` |") and "| inf | 1.0000 |" in rows[0]
    assert rows[1].startswith("| floor | `noisy` |")
    assert "| iters=200 |" in text and "loss_curve" not in text
    assert "trained rows under `demo` are **not a reproduction" in text


PROPOSED = "| Proposed → `liu_separate_s25`, `liu_separate_s35`, `liu_separate_s50` |"


def test_method_lists_take_the_first_entry_with_the_cell(results: Path, tmp_path: Path) -> None:
    add_entry(results, "liu_separate_s35", {"kodak24": {"awgn_sigma35": _metrics(30.90, 0.85, 24)}})
    add_entry(results, "liu_separate_s50", {"kodak24": {"awgn_sigma35": _metrics(20.0, 0.5, 24),
                                                        "awgn_sigma50": _metrics(29.20, 0.80, 24)}})
    out = tmp_path / "papers"
    write_paper_tables(results, REFS, out)
    text = (out / "004.md").read_text(encoding="utf-8")
    averages = text.split("## Table II")[1].split("### Per image")[0]
    # reported 30.83 (sigma 35) / 29.27 (sigma 50); s35 is listed before s50, so it wins the sigma-35 cell
    assert _cell(averages, PROPOSED, "Kodak24, σ=35 reproduced (Δ)") == "30.90 (Δ +0.07) [from liu_separate_s35]"
    assert _cell(averages, PROPOSED, "Kodak24, σ=50 reproduced (Δ)") == "29.20 (Δ -0.07) [from liu_separate_s50]"
    assert _cell(averages, PROPOSED, "Kodak24, σ=25 reproduced (Δ)") == "—"
    status = text.split("## Reproduction status")[1].split("## Table I")[0]
    assert "| Proposed | `liu_separate_s25` | not run yet |" in status
    assert "| Proposed | `liu_separate_s35` | `paper` |" in status
    assert "| Proposed | `liu_separate_s50` | `paper` |" in status
    index = (out / "index.md").read_text(encoding="utf-8")  # DnCNN and both Proposed cells, within tolerance
    assert "**3 of 82** reported average cells reproduced within tolerance" in index


def test_released_weights_outrank_a_short_schedule(results: Path, tmp_path: Path) -> None:
    """A cell shows the strongest evidence among the method's entries, whatever their listed order."""
    add_entry(results, "dncnn_color_blind", {"kodak24": {"awgn_sigma35": _metrics(22.0, 0.5, 24)}},
              profile="quick", kind="supervised")
    add_entry(results, "dncnn_pub_color_blind", {"kodak24": {"awgn_sigma35": _metrics(30.80, 0.86, 24)}},
              profile="quick", kind="pretrained")
    out = tmp_path / "papers"
    write_paper_tables(results, REFS, out)
    text = (out / "004.md").read_text(encoding="utf-8")
    summary = text.split("## Summary")[1].split("## Table I")[0]
    assert ("| Table II | DnCNN | Kodak24, σ=35 | psnr | 30.76 | 30.80 | +0.04 | released weights | reproduced | "
            "`dncnn_pub_color_blind` [quick] |") in summary  # quick profile, but all 24 images: a reproduction
    averages = text.split("## Table II")[1].split("### Per image")[0]
    assert "30.80 (Δ +0.04) [from dncnn_pub_color_blind, quick]" in averages
    caveats = text.split("## Caveats")[1].split("## Reproduction status")[0]
    profile = next(line for line in caveats.splitlines() if line.startswith("- **Profile `quick`**"))
    assert "NOT a reproduction" in profile and "`dncnn_color_blind`" in profile and "pub" not in profile


def test_noise_aliases_match_hg_cells(tmp_path: Path) -> None:
    root = tmp_path / "results"
    add_entry(root, "dae_mse_hg", {"polyu": {"hetero_gaussian_sampling-cbdnet": _metrics(30.50, 0.93, 100),
                                             "hg": _metrics(1.0, 0.1, 100)}})
    add_entry(root, "cbdnet_s2", {"polyu": {"cbdnet_variance-paper": _metrics(30.60, 0.90, 100),
                                            "hg_isp": _metrics(1.0, 0.1, 100)}})
    out = tmp_path / "papers"
    write_paper_tables(root, REFS, out)
    text = (out / "000.md").read_text(encoding="utf-8")
    fig4 = text.split("## Fig. 4 caption")[1].split("## Fig. 6")[0]  # reported 30.74 / 0.95 (hg)
    assert _cell(fig4, "| Traditional DAE → `dae_mse_awgn`, `dae_mse_hg` |", "PolyU, HG reproduced (Δ)") == \
        "30.50 / 0.93 (Δ -0.24 / -0.02) [from dae_mse_hg]"
    fig6 = text.split("## Fig. 6 caption")[1].split("## Fig. 8")[0]  # reported 30.49 / 0.92 (hg_isp)
    assert _cell(fig6, "| Improved CBDNet → `cbdnet_s2` |", "PolyU, HG+ISP reproduced (Δ)") == \
        "30.60 / 0.90 (Δ +0.11 / -0.02)"


def test_crop_sets_match_by_dataset(results: Path, tmp_path: Path) -> None:
    add_entry(results, "blind2grad", {"kodak24_zs": {"awgn_sigma25": _metrics(30.00, 0.85, 2)},
                                      "kodak24_zs_b": {"awgn_sigma25": _metrics(1.0, 0.1, 1),
                                                       "awgn_sigma50": _metrics(27.00, 0.70, 1)}},
              profile="quick", limit=5,
              sets={"kodak24_zs": _set("kodak24", crop=128, limit=2),
                    "kodak24_zs_b": _set("kodak24", crop=64, limit=1)})
    add_entry(results, "zsn2n", {"kodak24": {"awgn_sigma25": _metrics(29.50, 0.80, 24)},
                                 "kodak24_zs": {"awgn_sigma25": _metrics(1.0, 0.1, 2)}},
              sets={"kodak24": _set("kodak24"), "kodak24_zs": _set("kodak24", crop=128, limit=2)})
    out = tmp_path / "papers"
    write_paper_tables(results, REFS, out)
    text = (out / "003.md").read_text(encoding="utf-8")
    table3 = text.split("## Table 3")[1].split("## Table 4")[0]
    ours = "Ours → `blind2grad` reproduced (Δ)"  # reported 32.46 / 0.885 (sigma 25), 29.36 / 0.813 (sigma 50)
    assert _cell(table3, "| Kodak24 | σ=25 |", ours) == "30.00 / 0.850 (Δ -2.46 / -0.035) [quick, 2/24 img, crop 128]"
    assert _cell(table3, "| Kodak24 | σ=50 |", ours) == "27.00 / 0.700 (Δ -2.36 / -0.113) [quick, 1/24 img, crop 64]"
    assert _cell(table3, "| CBSD68 | σ=25 |", ours) == "—"
    # the set named like the reference test set wins over a crop set of the same dataset (reported 29.17 / 0.773)
    assert _cell(table3, "| Kodak24 | σ=25 |", "ZS-N2N → `zsn2n` reproduced (Δ)") == \
        "29.50 / 0.800 (Δ +0.33 / +0.027)"
    assert "centre crops of the test images" in table3 and "not comparable with full-image numbers" in table3
    assert "`blind2grad` set `kodak24_zs` (kodak24, crop 128, at most 2 images)" in table3
    assert "`zsn2n` set" not in table3
    status = text.split("## Reproduction status")[1]
    assert "| Ours | `blind2grad` | `quick` | RGB uint8 rounded, whole image | kodak24_zs: 2, kodak24_zs_b: 1 |" \
        in status
    caveats = text.split("## Caveats")[1].split("## Reproduction status")[0]
    assert "`kodak24_zs` (kodak24): 2 images — `blind2grad`" in caveats
    assert "`kodak24_zs_b` (kodak24): 1 image — `blind2grad`" in caveats
    assert "at most 5 images per test set — `bm3d`" in caveats and "`blind2grad`, `bm3d`" not in caveats
    assert "`kodak24_zs` (kodak24, 128 px) — `blind2grad`, `zsn2n`" in caveats
    board = write_results_md(results, tmp_path / "results.md").read_text(encoding="utf-8")
    zs = board.split("### kodak24_zs · awgn_sigma25")[1].split("###")[0]
    assert "| 2 (subset) |" in next(line for line in zs.splitlines() if "`blind2grad`" in line)
    assert "| `blind2grad` | blind2grad | baseline | classical | `quick` | kodak24_zs: 2, kodak24_zs_b: 1 |" in board


def test_extra_rows_section(results: Path, tmp_path: Path) -> None:
    add_entry(results, "liu_joint_s25", {"kodak24": {"awgn_sigma25": _metrics(32.10, 0.88, 24, 0.05)}})
    add_entry(results, "liu_joint_s35", {"kodak24": {"awgn_sigma25": _metrics(1.0, 0.1, 24),
                                                     "awgn_sigma35": _metrics(30.70, 0.85, 4)}})
    out = tmp_path / "papers"
    write_paper_tables(results, REFS, out)
    heading = "## Additional reproduced rows (no reported counterpart)"
    section = (out / "004.md").read_text(encoding="utf-8").split(heading)[1].split("\n## ")[0]
    row = ("| Joint (L_D + 0.2 L_P + 0.25 L_H, EfficientNet-Lite0; lambda_P calibrated) → `liu_joint_s25`, "
           "`liu_joint_s35`, `liu_joint_s50` |")
    assert _cell(section, row, "kodak24 · awgn_sigma25 PSNR / SSIM") == "32.10 / 0.8800 [from liu_joint_s25]"
    assert _cell(section, row, "kodak24 · awgn_sigma25 shave3 PSNR") == "32.15 [from liu_joint_s25]"
    assert _cell(section, row, "kodak24 · awgn_sigma35 PSNR / SSIM") == "30.70 / 0.8500 [from liu_joint_s35, 4/24 img]"
    assert "cbsd68" not in section
    assert ("Not run yet: `liu_joint_s50`, `liu_joint_ce_s25`, `liu_joint_ce_s35`, `liu_joint_ce_s50`, "
            "`ffdnet_color`.") in section
    page0 = (out / "000.md").read_text(encoding="utf-8").split(heading)[1].split("\n## ")[0]
    assert _cell(page0, "| BM3D → `bm3d` |", "cbsd68 · awgn_sigma50 PSNR / SSIM") == \
        "27.20 / 0.7701 [quick, 5/68 img]"
    assert _cell(page0, "| DnCNN → `dncnn_color_blind` |", "kodak24 · awgn_sigma25 PSNR / SSIM") == "32.40 / 0.8830"
    assert _cell(page0, "| CBDNet-S2 → `cbdnet_s2` |", "kodak24 · awgn_sigma25 PSNR / SSIM") == "—"
    assert "shave3" not in page0
    page3 = (out / "003.md").read_text(encoding="utf-8")
    assert "None of the listed entries has results yet." in page3.split(heading)[1]
    page1 = (out / "001.md").read_text(encoding="utf-8").split(heading)[1]  # paper 001: its K = 1 extra row
    assert "None of the listed entries has results yet." in page1


def test_paper_notes_and_links(tmp_path: Path) -> None:
    out = tmp_path / "papers"
    write_paper_tables(tmp_path / "no_results", REFS, out)
    page3 = (out / "003.md").read_text(encoding="utf-8")
    top = page3.split("## Reproduction status")[0]
    assert "Neighbor2Neighbor" in top and "Planaria" in top and "Kodak24 crops" in top
    links = page3.split("## Other outputs of this paper")[1]
    assert "- [Fig. 7 analogue: PSNR vs per-image time](../paper_003/figures/fig7/fig7.png)" in links
    assert "- [Ablation: masks, T-standout, omega](../paper_003/ablation/ablation.md)" in links
    page4 = (out / "004.md").read_text(encoding="utf-8")
    assert "(../paper_004/table4/highlevel.md)" in page4 and "(../paper_004/figures/fig4/fig4.png)" in page4
    page0 = (out / "000.md").read_text(encoding="utf-8")
    assert "Table 2's numbers are missing" in page0.split("## Reproduction status")[0]
    assert "(../paper_000/report/000_mtl.md)" in page0.split("## Other outputs of this paper")[1]
    page1 = (out / "001.md").read_text(encoding="utf-8")
    assert "(../paper_001/metatest/metatest.md)" in page1.split("## Other outputs of this paper")[1]
    assert "CC15" in page1.split("## Reproduction status")[0]  # paper 001's stand-in note


def test_declared_methods_must_be_reported(results: Path, tmp_path: Path, monkeypatch) -> None:
    """A declaration mapping a method its paper does not report fails with the package and the method."""
    import dataclasses

    import denoisebench.tables.papers as pages
    from denoisebench.papers import all_papers

    papers = [dataclasses.replace(p, method_map={"Nope": ("bm3d",)}) if p.key == "blind2grad" else p
              for p in all_papers()]
    monkeypatch.setattr(pages, "all_papers", lambda: papers)
    with pytest.raises(ConfigError, match=r"p003_blind2grad: blind2grad: method_map names methods \['Nope'\]"):
        write_paper_tables(results, REFS, tmp_path / "papers")


def test_entry_evaluated_on_no_cell_loads_as_empty(tmp_path: Path) -> None:
    """An entry whose evaluate_on matches no cell of the profile writes header-only results the tables accept."""
    import pandas as pd

    from denoisebench.config import MethodEntry
    from denoisebench.result_files import PER_IMAGE_COLUMNS, write_entry_results
    from denoisebench.tables.loader import load_results

    meta = {"entry": "real_only", "method": "blind2grad", "paper": "blind2grad", "kind": "zero-shot",
            "profile": "demo", "protocol_text": "x", "choices": [], "limit_images": None}
    write_entry_results(MethodEntry("real_only", "blind2grad", {}), pd.DataFrame(), meta, tmp_path / "metrics",
                        tmp_path / "scores")
    header = (tmp_path / "scores" / "real_only" / "per_image.csv").read_text().strip()
    assert header == ",".join(PER_IMAGE_COLUMNS)
    entry = load_results(tmp_path).get("real_only")
    assert entry is not None and entry.metrics == {}


def test_skipped_cells_are_counted_not_listed(results: Path, tmp_path: Path) -> None:
    skips = tuple(f"not evaluated on kodak24/awgn_sigma{s}: trained for AWGN sigma=25 only" for s in (35, 50))
    add_entry(results, "liu_separate_s25", {"kodak24": {"awgn_sigma25": _metrics(30.0, 0.8, 24)}},
              choices=(*skips, "sigma estimated on real noise"))
    out = tmp_path / "papers"
    write_paper_tables(results, REFS, out)
    text = (out / "004.md").read_text(encoding="utf-8")
    assert "not evaluated on kodak24" not in text
    assert "`liu_separate_s25`: 2 cells (2 × trained for AWGN sigma=25 only)" in text.split("## Caveats")[1]
    status = text.split("## Reproduction status")[1]
    assert "sigma estimated on real noise; 2 cells skipped (see Caveats)" in status

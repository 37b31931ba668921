"""Issue 23: a GPU window's scores enter the tables as rows of their own, with their provenance.

The windows here are built in tmp in the exact format ``benchmarks/gpu_window.py`` writes (``provenance.json``,
``scores/<entry>.json`` and ``.csv``); their device is named "Fake Test GPU" and their numbers are test inputs, not
measurements. That the real script's CPU path (``--tiny``) is refused as a rehearsal is checked in
``tests/test_gpu_window.py``, beside the one run of that path.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_tables import _metrics, _set, add_entry

from denoisebench.cli import main as cli
from denoisebench.tables import write_paper_tables, write_results_md
from denoisebench.tables.summary import write_summary

REPO = Path(__file__).resolve().parents[1]
GPU = "Fake Test GPU"
COMMIT = "0123456789abcdef0123456789abcdef01234567"
#: Reported ZS-N2N, Kodak24: sigma 25 29.17 dB, sigma 50 24.94 dB (references/blind2grad.csv, Table 3).
ZS_CELLS = {"kodak24_x10/awgn_sigma25": 29.12, "kodak24_x10/awgn_sigma50": 24.50}


def fake_window(out: Path, *, device: str = "cuda", gpu: str | None = GPU, tiny: bool = False, dirty: bool = False,
                failed: bool = True) -> Path:
    """A window folder as gpu_window.py leaves it: zsn2n ok on two Kodak24 cells (240 images: 24 x 10
    realisations), and (``failed``) a dncnn_gray_s25 job that raised."""
    (out / "scores").mkdir(parents=True)
    jobs = [{"entry": "zsn2n", "method": "zsn2n", "wall_s": 301.5, "cells": sorted(ZS_CELLS),
             "skipped": {"kodak24_poisson/poisson_lam30": "test: not run"}, "status": "ok"}]
    if failed:
        jobs.insert(0, {"entry": "dncnn_gray_s25", "status": "error", "error": "RuntimeError: CUDA out of memory",
                        "traceback": "..."})
    info = {"commit": COMMIT, "dirty": dirty, "torch": "2.5.1+cu124", "device": device, "host": "gpu-host",
            "started": "2026-12-06T10:00:00Z", "tiny": tiny, "check": None, "jobs": jobs}
    if gpu:
        info.update(gpu=gpu, cuda="12.4")
    (out / "provenance.json").write_text(json.dumps(info))
    scores = {key: {"n_images": 240, "psnr": psnr, "ssim": 0.7, "psnr_shave3": psnr + 0.01, "ssim_shave3": 0.7,
                    "seconds": 480.0} for key, psnr in ZS_CELLS.items()}
    (out / "scores" / "zsn2n.json").write_text(json.dumps(scores))
    rows = ["cell,image,psnr,ssim,psnr_shave3,ssim_shave3"]
    rows += [f"{key},kodim{i:02d}_r{r},{psnr},0.7,{psnr},0.7" for key, psnr in ZS_CELLS.items()
             for i in range(1, 25) for r in range(10)]
    (out / "scores" / "zsn2n.csv").write_text("\n".join(rows) + "\n")
    (out / "predictions" / "zsn2n").mkdir(parents=True)  # never copied
    (out / "predictions" / "zsn2n" / "big.npy").write_bytes(b"0" * 100)
    return out


def window_import(out: Path, windows: Path, *extra: str) -> int:
    return cli(["window", "import", str(out), "--windows", str(windows), "--params", str(REPO / "params.yaml"),
                *extra])


def render(tmp: Path, windows: Path) -> tuple[str, str, dict]:
    """results.md, paper 003's page and summary.json over a results tree holding only a quick zsn2n entry."""
    results = tmp / "results"
    add_entry(results, "zsn2n", {"kodak24_zs": {"awgn_sigma25": _metrics(27.0, 0.7, 1)}}, profile="quick",
              kind="zeroshot", sets={"kodak24_zs": _set("kodak24", crop=96, limit=1)})
    md = write_results_md(results, tmp / "reports" / "results.md", windows=windows).read_text()
    pages = write_paper_tables(results, REPO / "references", tmp / "reports" / "papers", windows=windows)
    page = next(p for p in pages if p.name == "003.md").read_text()
    write_summary(results, REPO / "references", tmp / "summary", windows=windows)
    return md, page, json.loads((tmp / "summary" / "summary.json").read_text())


def test_import_copies_the_small_files_and_names_the_failed_job(tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    out, windows = fake_window(tmp_path / "out"), tmp_path / "windows"
    assert window_import(out, windows) == 2  # the ok job is imported, the failed one named
    err = capsys.readouterr().err
    assert err.startswith("error: not imported") and "dncnn_gray_s25 (error: RuntimeError: CUDA out of memory)" in err
    folder = windows / "2026-12-06-fake-test-gpu-0123456"
    files = sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())
    assert files == ["provenance.json", "scores/zsn2n.csv", "scores/zsn2n.json", "window.json"]
    record = json.loads((folder / "window.json").read_text())
    assert list(record["entries"]) == ["zsn2n"] and record["entries"]["zsn2n"]["method"] == "zsn2n"
    assert record["entries"]["zsn2n"]["sets"]["kodak24_x10"]["dataset"] == "kodak24"
    assert window_import(out, windows) == 2
    assert "already exists" in capsys.readouterr().err


def test_window_rows_stand_beside_the_pipeline_rows_with_provenance(tmp_path: Path) -> None:
    windows = tmp_path / "windows"
    window_import(fake_window(tmp_path / "out"), windows, "--name", "w1")
    md, page, summary = render(tmp_path, windows)
    row = "zsn2n@w1"
    # results.md: the window row and the pipeline's quick row, each its own row, with its evidence
    assert f"`{row}`" in md and "| `zsn2n` |" in md
    assert f"paper settings, GPU window {GPU} 2026-12-06 @0123456" in md
    provenance = md.split("## GPU window rows", 1)[1]
    assert all(text in provenance for text in (GPU, "cuda 12.4, torch 2.5.1+cu124", "`0123456789ab`",
                                               "2026-12-06T10:00:00Z", "302 s"))
    # paper 003: sigma 25 is within 0.1 dB on the full set (24 images x 10), sigma 50 is not
    section = page.split("## GPU window rows", 1)[1]
    lines = [line for line in section.splitlines() if line.startswith(f"| `{row}`") and "Table 3" in line]
    sigma25 = next(line for line in lines if "29.17" in line)
    sigma50 = next(line for line in lines if "24.94" in line)
    assert "| reproduced |" in sigma25 and "27.00 (`quick`, 96 px centre crops)" in sigma25  # the pipeline's own value, kept apart
    assert "computed: Δ outside ±0.1 dB" in sigma50
    assert f"from {row}" in page  # the grids name the row a reproduced cell comes from
    assert summary["papers"]["p003"]["class_gpu_window"] >= 2 and row in summary["psnr"]


def test_dirty_or_cpu_window_is_never_reproduced(tmp_path: Path) -> None:
    windows = tmp_path / "windows"
    assert window_import(fake_window(tmp_path / "dirty", dirty=True, failed=False), windows, "--name", "d") == 0
    cpu = fake_window(tmp_path / "cpu", device="cpu", gpu=None, failed=False)
    assert window_import(cpu, windows, "--name", "c", "--allow-cpu") == 0
    _, page, _ = render(tmp_path, windows)
    section = page.split("## GPU window rows", 1)[1]
    assert "CPU (test import, not a GPU)" in section and "(dirty tree)" in section
    sigma25 = [line for line in section.splitlines() if "Table 3" in line and "29.17" in line]
    assert len(sigma25) == 2 and not any("| reproduced |" in line for line in sigma25)
    assert any("window run from a modified checkout" in line for line in sigma25)
    assert any("CPU test import" in line for line in sigma25)


@pytest.mark.parametrize(("kwargs", "extra", "reason"), [
    ({"device": "cpu", "gpu": None}, (), "is not a CUDA GPU"),
    ({"tiny": True}, (), "a --tiny (rehearsal) window"),
])
def test_refusals(tmp_path: Path, capsys: pytest.CaptureFixture[str], kwargs: dict, extra: tuple,
                  reason: str) -> None:
    windows = tmp_path / "windows"
    assert window_import(fake_window(tmp_path / "out", **kwargs), windows, *extra) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and reason in err and len(err.strip().splitlines()) == 1
    assert not windows.exists() or not any(windows.iterdir())


def test_missing_files_are_refused_and_nothing_is_written(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out, windows = fake_window(tmp_path / "out"), tmp_path / "windows"
    (out / "scores" / "zsn2n.csv").unlink()
    assert window_import(out, windows) == 2
    assert "zsn2n.csv" in capsys.readouterr().err and not any(windows.iterdir() if windows.exists() else [])
    (out / "provenance.json").unlink()
    assert window_import(out, windows) == 2
    assert "provenance.json is missing" in capsys.readouterr().err
    all_failed = fake_window(tmp_path / "failed")
    info = json.loads((all_failed / "provenance.json").read_text())
    info["jobs"] = [job for job in info["jobs"] if job["status"] != "ok"]
    (all_failed / "provenance.json").write_text(json.dumps(info))
    assert window_import(all_failed, windows) == 2
    assert "no job finished ok" in capsys.readouterr().err

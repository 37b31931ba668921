"""denoisebench.zoom (zoomed crops of several denoisers; paper 004's Fig. 4 analogue) on a tiny fake tree."""

from __future__ import annotations

import csv
import json
import logging
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from denoisebench.errors import ConfigError, MissingPairError
from denoisebench.imageio import to_uint8, write_image
from denoisebench.metrics import psnr

REPO = Path(__file__).resolve().parents[1]
TESTSET, LABEL, SIDE = "kodak24", "awgn_sigma25", 8
IDS = ("img_a", "img_b", "img_c")


@pytest.fixture(scope="module")
def stage() -> ModuleType:
    from denoisebench import zoom

    return zoom


def checkerboard(side: int, low: float, high: float) -> np.ndarray:
    """(side, side, 3) checkerboard of ``low``/``high``: the most textured patch of mean (low + high) / 2."""
    board = (np.add.outer(np.arange(side), np.arange(side)) % 2).astype(np.float32)
    return np.repeat((low + board * (high - low))[:, :, None], 3, axis=2)


def textured_clean(seed: int, h: int = 24, w: int = 32) -> np.ndarray:
    """Flat grey image (0.5) with one checkerboard 8x8 block at (10, 18), contrast depending on ``seed``."""
    img = np.full((h, w, 3), 0.5, dtype=np.float32)
    img[10:18, 18:26] = checkerboard(8, 0.1 + 0.1 * seed, 0.9 - 0.1 * seed)
    return img


@pytest.fixture()
def tree(tmp_path: Path) -> dict[str, Path]:
    """data/noisy + results/{predictions,scores} with rows: noisy (input fallback), den (all), part (no img_a)."""
    data, preds, scores = tmp_path / "data" / "noisy", tmp_path / "results" / "predictions", tmp_path / "scores"
    rng = np.random.default_rng(0)
    cell = data / TESTSET / LABEL
    for i, image_id in enumerate(IDS):
        clean = textured_clean(i)
        write_image(cell / "clean" / f"{image_id}.png", clean)
        noisy = clean + rng.normal(0, 0.1, clean.shape).astype(np.float32)  # unclipped, like the pipeline
        write_image(cell / "noisy" / f"{image_id}.npy", noisy)
        write_image(preds / "den" / TESTSET / LABEL / f"{image_id}.npy", clean + 0.02)
        if image_id != "img_a":
            write_image(preds / "part" / TESTSET / LABEL / f"{image_id}.png", clean + 0.04)
    # scores for "den" only (with a sentinel PSNR so the CSV is seen to be preferred over computing)
    (scores / "den").mkdir(parents=True)
    (scores / "den" / "per_image.csv").write_text(
        "entry,method,testset,noise,image,psnr,ssim\n"
        + "".join(f"den,den,{TESTSET},{LABEL},{i},33.3333,0.9\n" for i in IDS)
    )
    return {"data": data, "predictions": preds, "scores": scores, "out": tmp_path / "reports" / "p4" / "fig4.png"}


def run_stage(stage: ModuleType, tree: dict[str, Path], rows: dict[str, str], *extra: str) -> None:
    stage.main(["--testset", TESTSET, "--label", LABEL, "--rows", json.dumps(rows), "--crop", str(SIDE),
                "--data", str(tree["data"]), "--predictions", str(tree["predictions"]),
                "--scores", str(tree["scores"]), "--out", str(tree["out"]),
                "--csv", str(tree["out"].with_suffix(".csv")), *extra])


ROWS = {"Noisy": "noisy", "Den": "den", "Part": "part"}


def test_writes_png_and_csv_and_skips_missing_row(stage: ModuleType, tree: dict[str, Path],
                                                 caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="denoisebench"):
        run_stage(stage, tree, ROWS, "--image", "img_a")
    out = tree["out"]
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert sorted(p.name for p in out.parent.iterdir()) == ["fig4.csv", "fig4.png"]  # no temporary left behind
    with out.with_suffix(".csv").open(newline="") as fh:
        recs = list(csv.DictReader(fh))
    assert [r["row"] for r in recs] == ["Noisy", "Den"]  # "Part" has no img_a
    assert any("Part" in m and "img_a" in m for m in caplog.messages)
    assert {r["image"] for r in recs} == {"img_a"}
    assert {r["box"] for r in recs} == {f"10,18,{SIDE}"}  # the textured block of the clean image
    den, noisy = recs[1], recs[0]
    assert (den["psnr"], den["psnr_source"]) == ("33.3333", "scores_csv")
    assert noisy["psnr_source"] == "computed" and noisy["file"].endswith("noisy/img_a.npy")
    clean = (np.asarray(textured_clean(0)))
    expected = psnr(to_uint8(clean), np.load(noisy["file"]))
    assert float(noisy["psnr"]) == pytest.approx(expected, abs=1e-4)


def test_default_image_is_first_present_for_all_rows(stage: ModuleType, tree: dict[str, Path]) -> None:
    layout = stage.Layout(tree["data"], tree["predictions"], tree["scores"])
    assert stage.choose_image(layout, ROWS, TESTSET, LABEL) == "img_b"
    csv_path = tree["out"].parent / "custom.csv"
    run_stage(stage, tree, ROWS, "--box", "0,1", "--csv", str(csv_path))
    with csv_path.open(newline="") as fh:
        recs = list(csv.DictReader(fh))
    assert [r["row"] for r in recs] == ["Noisy", "Den", "Part"]
    assert {(r["image"], r["box"]) for r in recs} == {("img_b", f"0,1,{SIDE}")}
    assert recs[2]["psnr_source"] == "computed" and recs[2]["file"].endswith("img_b.png")


def test_box_picks_high_variance_region(stage: ModuleType) -> None:
    img = np.full((40, 50, 3), 0.5)
    img[5:17, 30:42] = checkerboard(12, 0.0, 1.0)
    img += np.random.default_rng(1).normal(0, 0.01, img.shape)  # mild texture everywhere else
    assert stage.best_box(img, 12) == (5, 30)
    assert stage.best_box(img[:, :, :1], 12) == (5, 30)  # grey images too
    # the vectorised local variance equals a direct computation
    small = np.random.default_rng(2).uniform(0, 1, (9, 11, 3))
    direct = np.array([[small[i:i + 4, j:j + 4].reshape(-1, 3).var(axis=0).sum() for j in range(8)]
                       for i in range(6)])
    np.testing.assert_allclose(stage.local_variance(small, 4), direct, atol=1e-10)


def test_fewer_than_two_rows_is_a_clear_error(stage: ModuleType, tree: dict[str, Path]) -> None:
    with pytest.raises(MissingPairError, match=r"only 1 of 2 rows.*part/kodak24/awgn_sigma25/img_a\.npy"):
        stage.build(stage.parser().parse_args(
            ["--rows", json.dumps({"Den": "den", "Part": "part"}), "--image", "img_a", "--crop", str(SIDE),
             "--data", str(tree["data"]), "--predictions", str(tree["predictions"]),
             "--scores", str(tree["scores"]), "--out", str(tree["out"])]))
    assert not tree["out"].exists()
    with pytest.raises(SystemExit):
        run_stage(stage, tree, {"Only": "den", "Gone": "nothing"})


def test_bad_parameters_name_the_flag(stage: ModuleType, tree: dict[str, Path]) -> None:
    with pytest.raises(ConfigError, match="--rows"):
        stage.parse_rows("[1, 2]")
    with pytest.raises(ConfigError, match="--box"):
        stage.parse_box("3")
    with pytest.raises(ConfigError, match=r"--box 20,0 with --crop 8"):
        stage.check_box((24, 32, 3), (20, 0), 8)
    with pytest.raises(ConfigError, match="--crop 40"):
        stage.best_box(np.zeros((24, 32, 3)), 40)


def test_paper_004_fig4_uses_its_rows_and_paths() -> None:
    from denoisebench.papers.p004_semantic_denoise import fig4
    from denoisebench import zoom

    args = zoom.parser(fig4.ROWS, "a.png", "b.csv").parse_args([])
    assert json.loads(args.rows)["Joint"] == "liu_joint_s25" and (args.out, args.csv) == ("a.png", "b.csv")

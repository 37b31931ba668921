"""references/: built deterministically from shared/docs/paper_results.yaml, complete, and mapped right."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import yaml

from denoisebench.errors import ConfigError, UnknownNameError
from denoisebench.references import (
    NOISE_ALIASES,
    image_id_from_label,
    load_papers,
    load_references,
    noise_label_from_degradation,
    normalise_image_id,
    result_noise_label,
)
from denoisebench.references import testset_from_dataset as dataset_to_testset

REPO = Path(__file__).resolve().parents[1]
SOURCE = REPO.parent / "shared" / "docs" / "paper_results.yaml"
REFS = REPO / "references"


def _tool():
    spec = importlib.util.spec_from_file_location("build_references", REPO / "tools" / "build_references.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def source_data() -> dict:
    if not SOURCE.is_file():
        pytest.fail(f"{SOURCE} is missing; the shared docs must sit beside the checkout")
    return yaml.safe_load(SOURCE.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def refs():
    return load_references(root=REFS)


def test_build_is_deterministic_and_matches_committed_files(tmp_path: Path) -> None:
    tool = _tool()
    assert tool.main([str(SOURCE), "--out", str(tmp_path / "a")]) == 0
    assert tool.main([str(SOURCE), "--out", str(tmp_path / "b")]) == 0
    names = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert names == ["blind2grad.csv", "durn_mtl.csv", "meta_tta.csv", "mtl_slw.csv", "papers.yaml",
                     "semantic_denoise.csv"]
    for name in names:
        first = (tmp_path / "a" / name).read_bytes()
        assert first == (tmp_path / "b" / name).read_bytes(), name
        assert first == (REFS / name).read_bytes(), f"references/{name} is stale: rerun tools/build_references.py"
    assert not [p for p in (tmp_path / "a").iterdir() if ".tmp" in p.name]


def test_every_record_is_present_once(refs, source_data) -> None:
    ids = [r["id"] for r in source_data["records"]]
    assert len(refs) == len(ids) == 1241
    assert list(refs["id"]) == ids
    counts = refs["paper"].value_counts().to_dict()
    assert counts == {k: v for k, v in source_data["meta"]["counts"].items() if k != "total"}
    assert load_references("meta_tta", root=REFS).shape[0] == 76


def _value(refs, **where) -> float:
    sub = refs
    for column, value in where.items():
        sub = sub[sub[column].isna()] if value is None else sub[sub[column] == value]
    assert len(sub) == 1, where
    return float(sub["value"].iloc[0])


def test_spot_values(refs) -> None:
    kodak = dict(paper="semantic_denoise", table="Table II", testset="kodak24", noise="awgn_sigma25",
                 metric="psnr", image_id=None)
    assert _value(refs, method="CBM3D", **kodak) == 31.81
    assert _value(refs, method="DnCNN", **kodak) == 32.35
    assert _value(refs, method="CBM3D", paper="semantic_denoise", testset="cbsd68", noise="awgn_sigma50",
                  metric="psnr") == 27.38
    b2g = dict(paper="blind2grad", table="Table 3", method="BM3D", testset="kodak24", noise="awgn_sigma25")
    assert _value(refs, metric="psnr", **b2g) == 31.87
    assert _value(refs, metric="ssim", **b2g) == 0.868
    assert _value(refs, paper="blind2grad", method="BM3D", testset="bsd68_gray", noise="awgn_sigma50",
                  metric="psnr") == 25.62
    img17 = refs[(refs["id"] == "semantic_denoise-0270")].iloc[0]
    assert (img17["image_id"], img17["noise"], img17["value"]) == ("kodim17", "awgn_sigma35", 30.64)
    assert "image 16" in img17["suspect"]
    dncnn01 = refs[refs["id"] == "semantic_denoise-0032"].iloc[0]
    assert dncnn01["printed"] == "28.10" and dncnn01["value"] == 28.1
    assert refs["suspect"].notna().sum() == 15
    assert (refs["confidence"] == "medium").sum() == 37


@pytest.mark.parametrize(("text", "label"), [
    ("awgn sigma=25", "awgn_sigma25"), ("AWGN sigma=50", "awgn_sigma50"), ("poisson lambda=30", "poisson_lam30"),
    ("real", "real"), ("real (sRGB)", "real"), ("real (raw-RGB)", "real_raw"), ("HG+ISP", "hg_isp"),
    ("HG", "hg"), ("motion blur", "motion_blur"), ("motion blur+haze+rain", "motion_blur_haze_rain"),
    ("synthetic mix: gaussian sigma 5-50 + speckle sigma 5-50 + salt&pepper (random order)", "synthetic_mix"),
    (None, None), ("", None),
])
def test_noise_label_from_degradation(text, label) -> None:
    assert noise_label_from_degradation(text) == label


def test_every_degradation_in_the_yaml_maps(source_data) -> None:
    degradations = {r["degradation"] for r in source_data["records"] if r["degradation"]}
    labels = {noise_label_from_degradation(d) for d in degradations}
    assert None not in labels
    assert {"awgn_sigma15", "awgn_sigma100", "poisson_lam50", "real", "real_raw"} <= labels


@pytest.mark.parametrize(("name", "testset"), [
    ("Kodak24", "kodak24"), ("CBSD68", "cbsd68"), ("BSD68", "bsd68_gray"), ("Set14", "set14"), ("Set12", "set12"),
    ("PolyU", "polyu"), ("CC15", "cc15"), ("SIDD-validation", "sidd_val"), ("Nam", "nam"),
    ("DIV2K-val (synthetic)", "div2k_val_synthetic"), (None, None),
])
def test_testset_from_dataset(name, testset) -> None:
    assert dataset_to_testset(name) == testset


def test_image_ids() -> None:
    assert image_id_from_label("Kodak image 07") == "kodim07"
    assert image_id_from_label(None) is None
    assert image_id_from_label("single unnamed image shown in figure") == "single_unnamed_image_shown_in_figure"
    assert normalise_image_id("data/x/kodim07.PNG") == "kodim07"


def test_papers_index_and_declared_maps(refs) -> None:
    from denoisebench.papers import PAPERS

    papers = load_papers(REFS)
    assert {k: v["number"] for k, v in papers.items()} == {
        "mtl_slw": "000", "meta_tta": "001", "durn_mtl": "002", "blind2grad": "003", "semantic_denoise": "004"}
    assert {k: PAPERS.get(k).number for k in PAPERS.names()} == {k: v["number"] for k, v in papers.items()}
    assert "Table 5" in papers["blind2grad"]["table_notes"]
    assert papers["durn_mtl"]["missing_tables"][0]["table"] == "Table 1"
    mapping = {k: dict(PAPERS.get(k).method_map) for k in PAPERS.names()}
    assert mapping["semantic_denoise"]["CBM3D"] == ("bm3d",)
    assert mapping["semantic_denoise"]["Proposed"] == ("liu_separate_s25", "liu_separate_s35", "liu_separate_s50")
    assert mapping["blind2grad"] == {"BM3D": ("bm3d",), "Ours": ("blind2grad",), "ZS-N2N": ("zsn2n",),
                                     "S2S": ("self2self",)}
    assert mapping["mtl_slw"]["Traditional DAE"] == ("dae_mse_awgn", "dae_mse_hg")
    for key, methods in mapping.items():
        assert set(methods) <= set(refs.loc[refs["paper"] == key, "method"]), key
    assert PAPERS.get("blind2grad").extra_rows == {"Ours (real-noise variant, dilated)": ("blind2grad_real",)}
    extra0 = PAPERS.get("mtl_slw").extra_rows  # derived from the package's Table 2 layout
    assert extra0["DAE-S2"] == ("dae_s2_awgn", "dae_s2_hg", "dae_s2_isp")
    assert extra0["DnCNN"] == ("dncnn_color_blind",)
    with pytest.raises(UnknownNameError, match="semantic_denoise"):
        load_references("nope", root=REFS)


def test_build_rejects_bad_input(source_data) -> None:
    tool = _tool()
    data = {**source_data, "records": [dict(r) for r in source_data["records"]]}
    data["records"][3]["value"] = "n/a"
    with pytest.raises(ConfigError, match="mtl_slw-0004"):
        tool.build(data, "x.yaml", "0")
    data = {**source_data, "records": source_data["records"][:-1]}
    with pytest.raises(ConfigError, match="meta.counts"):
        tool.build(data, "x.yaml", "0")


def test_noise_aliases() -> None:
    assert NOISE_ALIASES == {"hg": "hetero_gaussian_sampling-cbdnet", "hg_isp": "cbdnet_variance-paper"}
    assert result_noise_label("hg") == "hetero_gaussian_sampling-cbdnet"
    assert result_noise_label("hg_isp") == "cbdnet_variance-paper"
    assert result_noise_label("awgn_sigma25") == "awgn_sigma25"



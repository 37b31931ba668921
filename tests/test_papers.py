"""One package per paper: discovery, declarations, no core file naming a paper, and a toy paper added as one folder
plus its params entries, then listed, trained and tabulated by the unchanged pipeline."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from denoisebench.errors import ConfigError, UnknownNameError
from denoisebench.papers import PAPERS, _as_entry_lists, all_papers, find_paper

REPO = Path(__file__).resolve().parents[1]
TOY = Path(__file__).resolve().parent / "toy_paper" / "p999_toy"


def test_every_paper_package_is_discovered() -> None:
    assert [(p.number, p.key) for p in all_papers()] == [
        ("000", "mtl_slw"), ("001", "meta_tta"), ("002", "durn_mtl"), ("003", "blind2grad"),
        ("004", "semantic_denoise")]
    assert find_paper("004") is find_paper("semantic_denoise") is find_paper("p004_semantic_denoise")
    with pytest.raises(UnknownNameError, match="valid papers: 000 \\(mtl_slw\\)"):
        find_paper("nope")
    with pytest.raises(UnknownNameError, match="has no stage 'nope'; valid stages: fig4, table4"):
        PAPERS.get("semantic_denoise").stage("nope")


def test_core_never_names_a_paper_package() -> None:
    core = [p for p in (REPO / "src" / "denoisebench").rglob("*.py") if "papers" not in p.relative_to(REPO).parts]
    offenders = [str(p.relative_to(REPO)) for p in core
                 if re.search(r"denoisebench\.papers\.p\d{3}|papers import p\d{3}", p.read_text(encoding="utf-8"))]
    assert offenders == []


#: Registry items that belong to one paper (its own noise, data sets, metric protocols): registered from its package.
PAPER_ONLY = {
    "p001_meta_tta": {"protocol": ["ttaid", "ttaid_before"], "noise": ["composite", "speckle", "salt_pepper"]},
    "p002_durn_mtl": {"protocol": ["durn", "durn_y"], "noise": ["motion_blur", "haze", "rain"],
                      "dataset": ["gopro_train", "gopro_test", "reside_its", "reside_sots_indoor", "did_mdn_train",
                                  "did_mdn_test"]},
}


def test_paper_only_registry_items_come_from_their_paper_and_core_items_from_the_core() -> None:
    """The registries a paper can extend hold the core's items and each paper's own, registered from its folder."""
    from denoisebench.datasets import DATASETS
    from denoisebench.datasets.loaders import LOADERS
    from denoisebench.metrics import PROTOCOLS
    from denoisebench.noise.base import NOISE_MODELS
    from denoisebench.pretrained.catalog import PRETRAINED

    registries = {"protocol": PROTOCOLS, "noise": NOISE_MODELS, "dataset": DATASETS, "layout": LOADERS,
                  "pretrained": PRETRAINED}
    owned = {(kind, name): folder for folder, kinds in PAPER_ONLY.items() for kind, names in kinds.items()
             for name in names}
    for kind, registry in registries.items():
        for name in registry.names():
            origin = registry.origin(name)
            folder = owned.get((kind, name))
            if folder:
                assert origin.startswith(f"denoisebench.papers.{folder}."), (kind, name, origin)
            else:  # a core item: registered by core code (a paper's own item must be listed in PAPER_ONLY)
                assert not origin.startswith("denoisebench.papers."), (kind, name, origin)


def test_declarations_load_without_torch() -> None:
    code = "import sys; from denoisebench.papers import all_papers; all_papers(); print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_entry_lists_are_checked() -> None:
    assert _as_entry_lists({"A": "a", "B": ["b1", "b2"]}, "x") == {"A": ("a",), "B": ("b1", "b2")}
    for bad in ([], [1], ""):
        with pytest.raises(ConfigError, match="x: 'A' must name an entry"):
            _as_entry_lists({"A": bad}, "x")


def test_every_mapped_entry_is_a_params_entry_with_its_package_as_code() -> None:
    params = yaml.safe_load((REPO / "params.yaml").read_text(encoding="utf-8"))
    entries = {name: cfg for group in params["methods"].values() for name, cfg in group.items()}
    for paper in all_papers():
        for entry in paper.entries():
            assert entry in entries, (paper.key, entry)
    for name, cfg in entries.items():
        assert (REPO / "src" / "denoisebench" / cfg["code"]).exists(), (name, cfg["code"])
    for group in params["paper_stages"].values():
        for key, stage in group.items():
            paper = find_paper(stage["package"])
            assert paper.number == stage["number"] and stage["stage"] in paper.stages and key in params, key


def test_a_paper_extends_the_data_registries_from_its_own_folder() -> None:
    """The toy paper's ``registers`` module adds a noise model, a dataset and a metric protocol, found by the core
    registries without importing the paper by name (a fresh process: the registries load once)."""
    code = ("from denoisebench.noise.base import NOISE_MODELS; from denoisebench.datasets import DATASETS; "
            "from denoisebench.metrics import PROTOCOLS; "
            "print(NOISE_MODELS.get('toy_noise').name, DATASETS.get('toy_set').name, PROTOCOLS['toy_shave4'].border)")
    env = {**os.environ, "DENOISEBENCH_PAPER_PATH": str(TOY.parent)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert out.stdout.split() == ["toy_noise", "toy_set", "4"]
    bare = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={k: v for k, v in os.environ.items() if k != "DENOISEBENCH_PAPER_PATH"})
    assert bare.returncode != 0 and "unknown noise model 'toy_noise'" in bare.stderr


def _run(cmd: list[str], cwd: Path, env: dict[str, str], timeout: int = 600) -> str:
    result = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f"{' '.join(cmd)} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result.stdout


@pytest.mark.slow
def test_toy_paper_is_one_folder_plus_params(tmp_path: Path) -> None:
    """Copy the repository, add the toy package under src/denoisebench/papers/ and its entry to params.yaml (no
    other edit), then list it, train, predict, score and tabulate it through the unchanged DVC pipeline."""
    work = tmp_path / "repo"
    tracked = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True).stdout
    for rel in tracked.splitlines():
        # the other papers' stages do not run in the copy: their committed outputs stay (the tables stage reads one)
        generated = rel.startswith(("results/", "reports/", "models/")) and not rel.startswith("reports/paper_")
        if (REPO / rel).is_file() and not generated and rel != "dvc.lock":
            (work / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / rel, work / rel)
    shutil.copytree(TOY, work / "src" / "denoisebench" / "papers" / "p999_toy")
    params_path = work / "params.yaml"
    params = yaml.safe_load(params_path.read_text(encoding="utf-8"))
    params["profile"] = "demo"
    # the toy paper's own dataset, noise model and metric protocol (its registers module), used by name
    params["evaluation"]["demo"]["sets"] = [{"name": "toy", "dataset": "toy_set", "split": "test",
                                             "noise": ["toy_noise:sigma=25"]}]
    params["score"]["protocols"]["toy"] = "toy_shave4"
    params["methods"] = {"classical": {"noisy": params["methods"]["classical"]["noisy"]}, "cascade": {},
                         "learned": {"toy_entry": {"method": "toy", "code": "papers/p999_toy", "channels": 3,
                                                   "train_noise": {"name": "awgn", "sigma": 25}}}}
    params["train"] = {"toy_entry": {"demo": {"dataset": "demo", "split": "train", "iterations": 4, "batch_size": 2,
                                              "patch_size": 24, "optimizer": "adam", "lr": 0.001, "milestones": [],
                                              "seed": 0, "checkpoint_every": 2, "log_every": 2}}}
    params["paper_stages"] = {"probe": {}, "results": {}}
    params["run_entries"]["demo"] = ["noisy", "toy_entry"]  # a new paper's entries join the demo's smoke test
    params_path.write_text(yaml.safe_dump(params, sort_keys=False), encoding="utf-8")
    env = {**os.environ, "DVC_NO_ANALYTICS": "1", "MLFLOW_DISABLE_TELEMETRY": "true", "MPLBACKEND": "Agg",
           "DENOISEBENCH_TRACKING": "0", "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
           # the installed package is the checkout's; the copy's papers folder is searched after it
           "DENOISEBENCH_PAPER_PATH": str(work / "src" / "denoisebench" / "papers")}
    listing = json.loads(_run([sys.executable, "-m", "denoisebench.cli", "methods", "--json"], work, env))
    toy = next(row for row in listing["methods"] if row["name"] == "toy")
    assert toy["paper"] == "999 toy" and toy["parameters"] > 0
    assert "| [999](reports/papers/999.md) | `toy` | A toy paper | methods `toy`; 1 pipeline entries" in \
        _run([sys.executable, "-m", "denoisebench.cli", "papers"], work, env)
    _run(["git", "init", "-q"], work, env)
    _run(["dvc", "repro", "tables"], work, env)
    assert (work / "models" / "toy_entry" / "model.pt").is_file()
    metrics = json.loads((work / "results" / "metrics" / "toy_entry.json").read_text(encoding="utf-8"))
    label = next(iter(metrics["toy"]))
    assert label.startswith("toy_noise"), label
    psnr = metrics["toy"][label]["psnr"]
    per_image = (work / "results" / "scores" / "toy_entry" / "per_image.csv").read_text(encoding="utf-8")
    assert "psnr_toy" in per_image.splitlines()[0]
    page = (work / "reports" / "papers" / "999.md").read_text(encoding="utf-8")
    assert "# 999 · toy: A toy paper" in page
    assert f"{psnr:.2f} (Δ {psnr - 30.0:+.2f}) [demo" in page


def test_readme_paper_table_is_generated_from_the_declarations() -> None:
    from denoisebench.paper_status import README_END, README_START, status_table

    readme = (REPO / "README.md").read_text(encoding="utf-8")
    block = readme.split(README_START)[1].split(README_END)[0]
    params = yaml.safe_load((REPO / "params.yaml").read_text(encoding="utf-8"))
    assert block.strip() == status_table(params).strip(), "run `denoisebench papers --readme README.md`"

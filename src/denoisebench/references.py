"""The papers' reported numbers as project data (``references/``).

``tools/build_references.py`` derives ``references/<paper_key>.csv`` and ``references/papers.yaml`` from
``shared/docs/paper_results.yaml``; which benchmark entries fill a paper's methods is declared in the paper's
package (``denoisebench.papers``). This module holds the name mappings shared by the builder and the tables (including the
reported -> result noise-label aliases, :data:`NOISE_ALIASES`), and the loaders.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Callable

from denoisebench.errors import ConfigError, DenoiseBenchError

#: Columns of ``references/<paper_key>.csv``, in file order.
REFERENCE_COLUMNS: tuple[str, ...] = (
    "id", "paper", "table", "method", "method_group", "dataset", "testset", "degradation", "noise",
    "metric", "value", "printed", "unit", "image", "image_id", "source", "pair_id", "mark",
    "confidence", "suspect", "notes",
)

#: Paper dataset names -> this benchmark's test-set registry names (anything else becomes a slug).
DATASET_TESTSETS: dict[str, str] = {
    "Kodak24": "kodak24",
    "CBSD68": "cbsd68",
    "BSD68": "bsd68_gray",
    "Set12": "set12",
    "Set14": "set14",
    "Set9": "set9",
    "BSD300": "bsd300",
    "Urban100": "urban100",
    "HanZi": "hanzi",
    "Planaria": "planaria",
    "PolyU": "polyu",
    "CC": "cc15",
    "CC15": "cc15",
    # Nam et al. at full resolution with a 1024 centre crop (seed 001) is not the CC15 crop protocol.
    "Nam": "nam",
    "SIDD-validation": "sidd_val",
    "SIDD-benchmark": "sidd_bench",
    "BSDS500": "bsds500",
    "LIVE1": "live1",
    "GoPro": "gopro",
    "SOTS": "sots",
    "DID-MDN": "did_mdn",
    "ILSVRC2012-val": "ilsvrc2012_val",
    "VOC2012-val": "voc2012_val",
}

_NOISE_RULES: list[tuple[re.Pattern[str], Callable[[re.Match[str]], str]]] = [
    (re.compile(r"^awgn\s*sigma\s*=\s*(\d+(?:\.\d+)?)$"), lambda m: f"awgn_sigma{_num(m.group(1))}"),
    (re.compile(r"^poisson\s*lambda\s*=\s*(\d+(?:\.\d+)?)$"), lambda m: f"poisson_lam{_num(m.group(1))}"),
    (re.compile(r"^real(\s*\(srgb\))?$"), lambda m: "real"),
    (re.compile(r"^real\s*\(raw-?rgb\)$"), lambda m: "real_raw"),
    (re.compile(r"^hg\s*\+\s*isp$"), lambda m: "hg_isp"),
    (re.compile(r"^synthetic mix\b.*$"), lambda m: "synthetic_mix"),
]

#: Reported noise label -> the benchmark noise label its condition is stored under in the results (the one
#: place the tables translate noise labels; see :func:`result_noise_label`). Paper 000's heterogeneous Gaussian
#: noise (``hg``, figure captions) is the ``hetero_gaussian`` spec (CBDNet-style lambda sampling) and its
#: ``HG+ISP`` noise (``hg_isp``) the ``cbdnet`` camera-pipeline spec with the paper's variances.
NOISE_ALIASES: dict[str, str] = {
    "hg": "hetero_gaussian_sampling-cbdnet",
    "hg_isp": "cbdnet_variance-paper",
}

_KODAK_IMAGE = re.compile(r"^kodak image\s*0*(\d+)$", re.IGNORECASE)


def _num(text: str) -> str:
    """``"25"`` -> ``"25"``, ``"25.0"`` -> ``"25"``, ``"12.5"`` -> ``"12.5"``."""
    value = float(text)
    return str(int(value)) if value.is_integer() else text


def slug(text: str) -> str:
    """Lower-case ``text`` and join its alphanumeric runs with ``_`` (``"DIV2K-val (synthetic)"`` ->
    ``"div2k_val_synthetic"``)."""
    return "_".join(re.findall(r"[a-z0-9]+", text.lower()))


def noise_label_from_degradation(text: str | None) -> str | None:
    """Map a degradation string of ``paper_results.yaml`` to the benchmark's noise label.

    ``"awgn sigma=25"`` -> ``"awgn_sigma25"``, ``"poisson lambda=30"`` -> ``"poisson_lam30"``, ``"real"`` and
    ``"real (sRGB)"`` -> ``"real"``, ``"real (raw-RGB)"`` -> ``"real_raw"``, ``"HG+ISP"`` -> ``"hg_isp"``;
    anything else becomes a slug (``"motion blur"`` -> ``"motion_blur"``). ``None``/empty -> ``None``.
    """
    if text is None or not str(text).strip():
        return None
    norm = " ".join(str(text).strip().lower().split())
    for pattern, build in _NOISE_RULES:
        match = pattern.match(norm)
        if match:
            return build(match)
    return slug(norm) or None


def testset_from_dataset(name: str | None) -> str | None:
    """Map a paper's dataset name to a test-set registry name (unknown names become a slug)."""
    if name is None or not str(name).strip():
        return None
    name = str(name).strip()
    return DATASET_TESTSETS.get(name) or slug(name) or None


def image_id_from_label(label: str | None) -> str | None:
    """Map a paper's per-image label to the benchmark's image id (``"Kodak image 07"`` -> ``"kodim07"``).

    Labels that name no particular image file (e.g. a figure's unnamed image) keep a slug; ``None`` stays
    ``None`` (dataset averages).
    """
    if label is None or not str(label).strip():
        return None
    match = _KODAK_IMAGE.match(str(label).strip())
    if match:
        return f"kodim{int(match.group(1)):02d}"
    return slug(str(label))


def normalise_image_id(name: str) -> str:
    """Image id as the tables compare it: file stem, lower case (``"kodim01.png"`` -> ``"kodim01"``)."""
    stem = Path(str(name)).name
    for suffix in (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".npy"):
        if stem.lower().endswith(suffix):
            stem = stem[: -len(suffix)]
            break
    return stem.lower()


def default_references_dir() -> Path:
    """``<repo>/references`` when running from a checkout, else ``./references``."""
    repo = Path(__file__).resolve().parents[2]
    candidate = repo / "references"
    return candidate if candidate.is_dir() else Path.cwd() / "references"


def _yaml_load(path: Path) -> Any:
    import yaml

    try:
        with open(path, encoding="utf-8") as handle:
            return yaml.safe_load(handle)
    except FileNotFoundError:
        raise DenoiseBenchError(
            f"{path} is missing; run `python tools/build_references.py` to generate references/"
        ) from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path} is not valid YAML: {exc}") from exc


def load_papers(root: str | Path | None = None) -> dict[str, dict[str, Any]]:
    """Read ``references/papers.yaml``: paper key -> {number, file, csv, title, venue, table_notes, ...}."""
    path = Path(root or default_references_dir()) / "papers.yaml"
    data = _yaml_load(path)
    papers = data.get("papers") if isinstance(data, dict) else None
    if not isinstance(papers, dict):
        raise ConfigError(f"{path} has no 'papers' mapping; regenerate it with tools/build_references.py")
    return papers


def result_noise_label(label: str) -> str:
    """The benchmark noise label under which a reported noise label is looked up in the results
    (:data:`NOISE_ALIASES`; any other label is used as is)."""
    return NOISE_ALIASES.get(label, label)


def load_references(paper_key: str | None = None, root: str | Path | None = None) -> "Any":
    """Load the reported numbers as a ``pandas.DataFrame`` (columns :data:`REFERENCE_COLUMNS`).

    Args:
        paper_key: one paper (``"semantic_denoise"``), or ``None`` for all papers, in ``papers.yaml`` order.
        root: the ``references/`` folder (default: the checkout's).

    Raises:
        UnknownNameError: ``paper_key`` is not in ``papers.yaml``.
    """
    import pandas as pd

    from denoisebench.errors import UnknownNameError

    root = Path(root or default_references_dir())
    papers = load_papers(root)
    if paper_key is not None and paper_key not in papers:
        raise UnknownNameError(f"unknown paper key {paper_key!r} in {root / 'papers.yaml'}; "
                               f"valid names: {', '.join(papers)}")
    keys = [paper_key] if paper_key is not None else list(papers)
    frames = [read_reference_csv(root / papers[key].get("csv", f"{key}.csv")) for key in keys]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=list(REFERENCE_COLUMNS))


def read_reference_csv(path: str | Path) -> Any:
    """One reported-numbers CSV as a DataFrame (columns :data:`REFERENCE_COLUMNS`, ``value`` numeric)."""
    import pandas as pd

    path = Path(path)
    if not path.is_file():
        raise DenoiseBenchError(f"{path} is missing; run `python tools/build_references.py`")
    frame = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])
    missing = [c for c in REFERENCE_COLUMNS if c not in frame.columns]
    if missing:
        raise ConfigError(f"{path} lacks columns {missing}; regenerate it with tools/build_references.py")
    frame = frame[list(REFERENCE_COLUMNS)].copy()
    frame["value"] = pd.to_numeric(frame["value"])
    frame["suspect"] = frame["suspect"].where(frame["suspect"].notna(), None)
    return frame

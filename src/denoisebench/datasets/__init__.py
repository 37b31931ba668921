"""Datasets: declarations (URLs, sha256, layout, licence, splits), verified fetching and lazy loading.

Typical use::

    from denoisebench.datasets import fetch_dataset, list_samples
    fetch_dataset("set12", "data/datasets")          # mirror ($DENOISEBENCH_MIRROR) first, then the URLs
    for ref in list_samples("set12", "data/datasets"):
        image = ref.clean()                            # float32 (H, W, C) in [0, 1]
"""

from __future__ import annotations

from denoisebench.datasets import catalog_real as _catalog_real  # noqa: F401  (registers real-noise sets)
from denoisebench.datasets import demo as _demo  # noqa: F401  (registers the demo set)
from denoisebench.datasets.catalog import DATASETS
from denoisebench.datasets.cli_helpers import (
    dataset_rows,
    fetch_datasets,
    format_dataset_table,
    format_verify_reports,
    resolve_names,
    verify_datasets,
)
from denoisebench.datasets.fetch import (
    MIRROR_ENV,
    UnverifiedDownloadWarning,
    VerifyReport,
    dataset_dir,
    fetch_dataset,
    get_spec,
    verify_dataset,
)
from denoisebench.datasets.loaders import SampleRef, list_samples
from denoisebench.datasets.polyu import POLYU_TEST_SCENES, polyu_scene
from denoisebench.datasets.spec import DatasetSpec, FileEntry, Layout

__all__ = [
    "DATASETS",
    "MIRROR_ENV",
    "POLYU_TEST_SCENES",
    "DatasetSpec",
    "FileEntry",
    "Layout",
    "SampleRef",
    "UnverifiedDownloadWarning",
    "VerifyReport",
    "dataset_dir",
    "dataset_rows",
    "fetch_dataset",
    "fetch_datasets",
    "format_dataset_table",
    "format_verify_reports",
    "get_spec",
    "list_samples",
    "polyu_scene",
    "resolve_names",
    "verify_dataset",
    "verify_datasets",
]

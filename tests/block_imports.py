"""Imported first by a subprocess (``python -c "import block_imports; ..."``): the packages that
benchmarks/gpu_check.py must not need (DVC, MLflow and the pipeline's other extras) look absent."""

import importlib.abc
import importlib.machinery
import sys

DENY = {"mlflow", "dvc", "dvclive", "tqdm", "ruamel", "h5py", "pandas", "matplotlib", "requests", "sklearn"}


class _Absent(importlib.abc.Loader):
    def create_module(self, spec):  # noqa: D102
        raise ModuleNotFoundError(f"No module named {spec.name!r} (hidden by tests/block_imports.py)")

    def exec_module(self, module):  # noqa: D102
        pass


class _Hide(importlib.abc.MetaPathFinder):
    """A spec without origin (so probes such as torch's find_spec skip it) whose loading fails."""

    def find_spec(self, name, path, target=None):  # noqa: D102
        if name.split(".")[0] in DENY:
            return importlib.machinery.ModuleSpec(name, _Absent(), origin=None)
        return None


sys.meta_path.insert(0, _Hide())

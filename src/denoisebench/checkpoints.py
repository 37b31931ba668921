"""Checkpoints verified when loaded: ``model.pt`` / ``state.pt`` carry the sha256 of their tensors.

torch reads a checkpoint with damaged bytes without complaint when the damage falls inside tensor data (issue 24:
weights of 1.4e13, outputs moved by up to 8.8 on a [0, 1] scale). :func:`with_digest` adds ``tensor_sha256`` (a
digest of every tensor's name, dtype, shape and bytes, in key order) when a checkpoint is written; :func:`load_verified`
recomputes it when one is read and refuses a mismatch with one error naming the file and the fix. Checkpoints written
before digests existed load with a warning (nothing to check them against).
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from denoisebench.errors import DenoiseBenchError

LOG = logging.getLogger("denoisebench")

DIGEST_KEY = "tensor_sha256"
RESTORE_HINT = ("restore it with `dvc checkout models/<entry>/model.pt` (or `dvc pull` it) or retrain the entry "
                "(`dvc repro -f -s train`)")


class CorruptCheckpointError(DenoiseBenchError):
    """A checkpoint cannot be decoded or its tensors differ from the digest written with them."""


def tensor_digest(obj: Any) -> str:
    """sha256 over every tensor reachable in ``obj`` (dicts in key order, lists in order), with its path, dtype and
    shape; non-tensor values are not part of it."""
    import torch

    digest = hashlib.sha256()

    def visit(value: Any, where: str) -> None:
        if isinstance(value, torch.Tensor):
            tensor = value.detach().to("cpu").contiguous()
            digest.update(f"{where}|{tensor.dtype}|{tuple(tensor.shape)}|".encode())
            digest.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes() if tensor.numel() else b"")
        elif isinstance(value, Mapping):
            for key in sorted(value, key=str):
                if key != DIGEST_KEY:
                    visit(value[key], f"{where}/{key}")
        elif isinstance(value, (list, tuple)):
            for i, item in enumerate(value):
                visit(item, f"{where}[{i}]")

    visit(obj, "")
    return digest.hexdigest()


def with_digest(obj: dict[str, Any]) -> dict[str, Any]:
    """``obj`` with its :func:`tensor_digest` under ``tensor_sha256`` (what a writer saves)."""
    return {**obj, DIGEST_KEY: tensor_digest(obj)}


def load_verified(path: str | os.PathLike[str]) -> Any:
    """``torch.load`` (CPU, weights only) of ``path``, its tensors checked against the digest written with them.

    Raises:
        CorruptCheckpointError: the file cannot be decoded, or its tensors differ from their digest (the message
            names the file and how to restore it).
    """
    import torch

    p = Path(path)
    try:
        ckpt = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types (RuntimeError, pickle errors, ...) for bad bytes
        raise CorruptCheckpointError(f"{p}: cannot be read as a checkpoint ({type(exc).__name__}: "
                                     f"{str(exc).splitlines()[0] if str(exc) else ''}); {RESTORE_HINT}") from exc
    if not isinstance(ckpt, dict):
        return ckpt
    recorded = ckpt.get(DIGEST_KEY)
    if recorded is None:
        LOG.warning("%s: written without a tensor digest (an older checkpoint), so it cannot be verified; retrain "
                    "the entry to get one", p)
        return ckpt
    actual = tensor_digest(ckpt)
    if actual != recorded:
        raise CorruptCheckpointError(f"{p}: corrupt checkpoint: its tensors' sha256 is {actual[:12]}..., the one "
                                     f"written with it {str(recorded)[:12]}...; {RESTORE_HINT}")
    return ckpt

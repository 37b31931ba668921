"""Models verified when loaded (issue 24, item 4): a damaged ``model.pt`` is refused with one clear error.

Before: torch read a ``model.pt`` whose tensor bytes were damaged without error (weights of 1.4e13). Now every
checkpoint the trainer writes carries the sha256 of its tensors and every loader checks it.
"""

from __future__ import annotations

import struct
import zipfile
from pathlib import Path

import numpy as np
import pytest

from denoisebench.checkpoints import CorruptCheckpointError, load_verified


@pytest.fixture(scope="module")
def model_pt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny trained DnCNN's model.pt (2 steps)."""
    import torch

    from denoisebench.methods import build_method

    torch.set_num_threads(1)
    out = tmp_path_factory.mktemp("model")
    method = build_method("dncnn", {"channels": 1, "depth": 3, "features": 4})
    images = [np.random.default_rng(0).uniform(0, 1, (24, 24, 1)).astype(np.float32)]
    return method.train(images, out, train_config={"iterations": 2, "batch_size": 2, "patch_size": 8,
                                                   "progress": False, "device": "cpu"})


def _flip_tensor_byte(path: Path, copy: Path) -> None:
    """Copy ``path`` with one byte inside the first tensor's stored data changed (the zip stays readable)."""
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as archive:
        info = next(i for i in archive.infolist() if "/data/" in i.filename and i.file_size >= 16)
    name_len, extra_len = struct.unpack("<HH", data[info.header_offset + 26: info.header_offset + 30])
    start = info.header_offset + 30 + name_len + extra_len
    data[start + 3] ^= 0x40  # an exponent bit of a float32: the weight becomes huge, as in the issue
    copy.write_bytes(bytes(data))


def test_a_damaged_tensor_is_refused_naming_the_file_and_the_fix(model_pt: Path, tmp_path: Path) -> None:
    assert load_verified(model_pt)["tensor_sha256"]  # written with its digest, and it verifies
    bad = tmp_path / "model.pt"
    _flip_tensor_byte(model_pt, bad)
    with pytest.raises(CorruptCheckpointError, match=rf"{bad}: corrupt checkpoint.*dvc checkout models/<entry>"):
        load_verified(bad)


def test_denoise_refuses_a_damaged_model_in_one_line(model_pt: Path, tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    from denoisebench.cli import main
    from denoisebench.imageio import write_image

    bad = tmp_path / "model.pt"
    _flip_tensor_byte(model_pt, bad)
    noisy = tmp_path / "noisy.png"
    write_image(noisy, np.full((16, 16, 1), 0.5, np.float32))
    code = main(["denoise", "--method", "dncnn", "--checkpoint", str(bad), "--input", str(noisy),
                 "--output", str(tmp_path / "out.png")])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith(f"error: {bad}: corrupt checkpoint") and err.count("\n") == 1
    assert not (tmp_path / "out.png").exists()


def test_truncated_file_is_one_clear_error(model_pt: Path, tmp_path: Path) -> None:
    bad = tmp_path / "model.pt"
    bad.write_bytes(model_pt.read_bytes()[:200])
    with pytest.raises(CorruptCheckpointError, match=rf"{bad}: cannot be read as a checkpoint"):
        load_verified(bad)

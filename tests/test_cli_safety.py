"""Inputs are sacred and errors at the edges are one line (issue 24, items 1 and 5; issue 21, CLI).

Before: `denoise --input d --output d` exited 0 and replaced d/x.png; `synthesize` into its input folder added files
there; a 1x1 image, a 20000x20000 PNG, a read-only or full output location gave tracebacks; `--suffix .txt` wrote
PNG bytes named .txt.
"""

from __future__ import annotations

import argparse
import errno
import json
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from denoisebench.cli import COMMANDS, build_parser, main


@pytest.fixture
def photos(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``tmp/d`` with two 24x24 colour PNGs; the working folder is ``tmp``."""
    monkeypatch.chdir(tmp_path)
    folder = tmp_path / "d"
    folder.mkdir()
    for name, value in (("x", 90), ("y", 160)):
        Image.fromarray(np.full((24, 24, 3), value, np.uint8)).save(folder / f"{name}.png")
    return folder


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _one_error(capsys: pytest.CaptureFixture[str], *needles: str) -> str:
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err, err
    for needle in needles:
        assert needle in err, err
    return err


def _denoise(*args: str) -> int:
    return main(["denoise", "--method", "tv", "--sigma", "25", *args])


# ------------------------------------------------------------------------------------------ inputs are sacred
@pytest.mark.parametrize("output, how", [("d", "is"), ("d/sub", "lies inside"), ("d/../d", "is")])
def test_denoise_folder_never_writes_into_its_input(photos: Path, output: str, how: str,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    before = _snapshot(photos)
    assert _denoise("--input", "d", "--output", output) == 2
    _one_error(capsys, f"--output {output} {how} --input d")
    assert _snapshot(photos) == before


def test_denoise_refuses_an_output_folder_containing_its_input(photos: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    before = _snapshot(photos)
    assert _denoise("--input", "d", "--output", ".") == 2
    _one_error(capsys, "contains --input d")
    assert _snapshot(photos) == before


def test_denoise_single_file_never_replaces_its_input(photos: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = _snapshot(photos)
    assert _denoise("--input", "d/x.png", "--output", "d/x.png") == 2
    _one_error(capsys, "--output d/x.png is --input d/x.png")
    (photos.parent / "link.png").symlink_to(photos / "x.png")  # the same file under another name
    assert _denoise("--input", "d/x.png", "--output", "link.png") == 2
    _one_error(capsys, "inputs are never written to")
    assert _snapshot(photos) == before


def test_synthesize_never_writes_into_its_input(photos: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = _snapshot(photos)
    assert main(["synthesize", "--input", "d", "--output", "d", "--noise", "awgn", "--sigma", "25"]) == 2
    _one_error(capsys, "--output d is --input d")
    assert main(["synthesize", "--input", "d", "--output", "d/noisy", "--noise", "awgn", "--sigma", "25"]) == 2
    _one_error(capsys, "lies inside --input d")
    assert _snapshot(photos) == before


def test_a_file_denoisebench_did_not_write_is_never_replaced(photos: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    mine = photos.parent / "mine.png"
    mine.write_bytes(b"a user's file")
    assert _denoise("--input", "d/x.png", "--output", "mine.png") == 2
    _one_error(capsys, "mine.png exists and was not written by denoisebench", "--overwrite")
    assert mine.read_bytes() == b"a user's file"
    out = photos.parent / "out"
    out.mkdir()
    (out / "x.png").write_bytes(b"another user's file")
    assert _denoise("--input", "d", "--output", "out") == 2
    _one_error(capsys, "x.png exists and was not written by denoisebench")
    assert sorted(p.name for p in out.iterdir()) == ["x.png"]
    assert _denoise("--input", "d", "--output", "out", "--overwrite") == 0  # said explicitly: replaced
    assert _denoise("--input", "d", "--output", "out") == 0  # denoisebench's own outputs: a rerun replaces them
    assert Image.open(out / "x.png").size == (24, 24)


# ------------------------------------------------------------------------------------------ errors at the edges
def test_images_smaller_than_a_window_are_one_error_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    Image.fromarray(np.full((1, 1), 90, np.uint8)).save("tiny.png")
    assert main(["denoise", "--method", "nlm", "--sigma", "25", "--input", "tiny.png", "--output", "o.png"]) == 2
    _one_error(capsys, "nlm: the image is 1x1 pixels", "at least 2x2")
    assert not Path("o.png").exists()
    for folder in ("ref", "res"):
        Path(folder).mkdir()
        Image.fromarray(np.full((8, 8, 3), 90, np.uint8)).save(f"{folder}/a.png")
    assert main(["score", "--reference", "ref", "--restored", "res"]) == 2
    _one_error(capsys, "ref/a.png vs res/a.png", "too small for SSIM", "11x11")


def _png_header_only(path: Path, width: int, height: int) -> None:
    """A PNG whose header claims ``width`` x ``height`` (a decompression bomb's header; no pixel data)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64))
                     + chunk(b"IEND", b""))


def test_decompression_bombs_are_refused_at_a_stated_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    _png_header_only(tmp_path / "bomb.png", 20000, 20000)
    assert _denoise("--input", "bomb.png", "--output", "o.png") == 2
    _one_error(capsys, "bomb.png: image of 400,000,000 pixels exceeds the limit of 100,000,000 pixels",
               "DENOISEBENCH_MAX_PIXELS")
    Image.fromarray(np.full((16, 16, 3), 90, np.uint8)).save("small.png")
    monkeypatch.setenv("DENOISEBENCH_MAX_PIXELS", "100")  # configurable
    assert _denoise("--input", "small.png", "--output", "o.png") == 2
    _one_error(capsys, "exceeds the limit of 100 pixels")
    np.save("big.npy", np.zeros((16, 16, 3), np.float32))
    assert _denoise("--input", "big.npy", "--output", "o.png") == 2
    _one_error(capsys, "big.npy: 16x16 image")
    assert not Path("o.png").exists()


@pytest.mark.parametrize("code, words", [(errno.EROFS, "Read-only file system"), (errno.ENOSPC,
                                                                                    "No space left on device")])
def test_unwritable_or_full_output_is_one_line_and_leaves_nothing(photos: Path, monkeypatch: pytest.MonkeyPatch,
                                                                   capsys: pytest.CaptureFixture[str], code: int,
                                                                   words: str) -> None:
    def failing_save(self: Image.Image, fp: object, *args: object, **kwargs: object) -> None:
        Path(str(fp)).write_bytes(b"\x89PNG half")  # part of the file reached the disk, then the write failed
        raise OSError(code, words, str(fp))

    monkeypatch.setattr(Image.Image, "save", failing_save)
    assert _denoise("--input", "d", "--output", "out") == 2
    _one_error(capsys, f"cannot write {photos.parent}/.out.", words, "nothing was left half-written")
    assert sorted(p.name for p in photos.parent.iterdir()) == ["d"]  # no output folder, no temporary one
    assert _denoise("--input", "d/x.png", "--output", "single.png") == 2
    _one_error(capsys, words)
    assert sorted(p.name for p in photos.parent.iterdir()) == ["d"]


def test_output_that_is_an_existing_file_for_a_folder_input(photos: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (photos.parent / "taken").write_text("x")
    assert _denoise("--input", "d", "--output", "taken") == 2
    _one_error(capsys, "--output taken: an existing file, but the input is a folder")


def test_a_suffix_whose_format_differs_is_refused(photos: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _denoise("--input", "d", "--output", "out", "--suffix", ".txt") == 2
    _one_error(capsys, "--suffix '.txt': not an image format written here", ".png", ".npy")
    assert _denoise("--input", "d/x.png", "--output", "x.txt") == 2
    _one_error(capsys, "--output '.txt'")
    assert sorted(p.name for p in photos.parent.iterdir()) == ["d"]
    assert _denoise("--input", "d", "--output", "out", "--suffix", ".NPY") == 0
    assert np.load(photos.parent / "out" / "x.npy").dtype == np.float32  # the suffix is the format


# --------------------------------------------------------------------------------------------- issue 21: CLI
def test_every_option_has_help_and_every_command_an_example() -> None:
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    assert set(sub.choices) == set(COMMANDS) >= {"datasets", "pretrained", "synthesize", "score", "denoise",
                                                 "methods", "papers", "tracking"}
    for name, command_parser in sub.choices.items():
        assert f"denoisebench {name}" in (command_parser.epilog or ""), name
        for action in command_parser._actions:
            assert action.help, f"{name} {action.dest} has no help text"


def test_synthesize_help_says_what_it_writes_and_how_to_view_it(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["synthesize", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "float32 .npy" in text and "manifest.json" in text and "write_image('view.png'" in text


def test_a_short_schedule_checkpoint_is_named_on_load(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    import torch

    from denoisebench.methods import build_method

    torch.set_num_threads(1)
    monkeypatch.chdir(tmp_path)
    method = build_method("dncnn", {"channels": 1, "depth": 3, "features": 4})
    images = [np.random.default_rng(0).uniform(0, 1, (24, 24, 1)).astype(np.float32)]
    model = method.train(images, tmp_path / "models" / "e", train_config={
        "iterations": 2, "batch_size": 2, "patch_size": 8, "progress": False, "device": "cpu"})
    (model.parent / "summary.json").write_text(json.dumps({"profile": "demo", "steps": 2}))
    Image.fromarray(np.full((16, 16), 90, np.uint8)).save("in.png")
    assert main(["denoise", "--method", "dncnn", "--checkpoint", str(model), "--input", "in.png",
                 "--output", "o.png"]) == 0
    (warning,) = [line for line in capsys.readouterr().err.splitlines() if line.startswith("warning:")]
    assert "trained by the 'demo' profile (2 steps" in warning and "paper profile" in warning
    (model.parent / "summary.json").write_text(json.dumps({"profile": "paper", "steps": 2}))
    assert main(["denoise", "--method", "dncnn", "--checkpoint", str(model), "--input", "in.png",
                 "--output", "o.png"]) == 0
    assert "warning:" not in capsys.readouterr().err


def test_zero_shot_steps_reach_the_progress_bar(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import yaml

    from denoisebench import cli

    monkeypatch.chdir(tmp_path)
    (tmp_path / "params.yaml").write_text(yaml.safe_dump({"methods": {"classical": {
        "z": {"method": "zsn2n", "iterations": 3}}}}))
    Image.fromarray(np.full((16, 16, 3), 90, np.uint8)).save("in.png")
    seen: list[tuple[int | None, int]] = []
    monkeypatch.setattr(cli.StepBar, "__call__", lambda self, step: seen.append((self.total, step)))
    assert main(["denoise", "--method", "z", "--params", "params.yaml", "--sigma", "25", "--input", "in.png",
                 "--output", "o.png"]) == 0
    assert seen == [(3, 1), (3, 2), (3, 3)]


@pytest.mark.parametrize("argv", [["datasets", "fetch", "set12", "--root", "m/raw", "--mirror", "m"],
                                  ["pretrained", "fetch", "dncnn_color_blind", "--root", "w", "--mirror", "w"]])
def test_fetch_never_writes_into_its_mirror(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    _one_error(capsys, "--mirror", "inputs are never written to")
    assert list(tmp_path.iterdir()) == []

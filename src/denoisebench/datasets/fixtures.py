"""Small generated fixtures of every dataset in its published layout (issue 23: the paper profile rehearsed on CPU).

:func:`build_fixture` writes ``out/<spec.folder>/<path>`` for the declared paths of a registered dataset: the same
archive names and member layout, ``.mat`` keys, folder names and file suffixes as the real set, so the registered,
unchanged loader lists samples from it once :func:`~denoisebench.datasets.fetch_dataset` has copied (or downloaded)
the files, with the returned :class:`FileEntry` list as the spec's files. Only the pixels and the counts differ:
smooth seeded content (gradients, low-frequency waves, a few edges) that compresses well, and degraded inputs that
are the reference plus mild seeded noise (a fixture tests layouts and plumbing, not restoration).

One builder per layout kind (:data:`FIXTURE_BUILDERS`). Layouts inside archives or folders whose names the spec does
not list (``archived``, ``mirrored``, ``side_by_side``, ``batches``) take their member names from
:data:`PUBLISHED`, the published names per dataset (the authors' file lists for paper 002's sets, the official
archives' folders otherwise). Datasets that share a folder and an archive (``gopro_train`` / ``gopro_test``,
``did_mdn_train`` / ``did_mdn_test``) get one archive holding the members of all of them, so either name builds the
same bytes. ``aux`` tables are copied from the data mirror, never invented.

Not imported by the package: ``from denoisebench.datasets.fixtures import build_fixture``.
"""

from __future__ import annotations

import hashlib
import io
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Callable

import numpy as np

from denoisebench.datasets.catalog import DATASETS
from denoisebench.datasets.download import archive_stem
from denoisebench.datasets.fetch import get_spec
from denoisebench.datasets.spec import DatasetSpec, FileEntry
from denoisebench.errors import ConfigError, DatasetError, UnknownNameError
from denoisebench.fsutil import write_bytes_atomic
from denoisebench.registry import Registry, load_paper_registrations

Size = tuple[int, int]  # (height, width)
#: Test images: small, non-square (a transposed axis shows).
TEST_SIZE: Size = (64, 96)
#: Training images: above the largest paper patch on the set (DuRN and CBDNet crop 256 / 128 px of CBSD432).
TRAIN_SIZE: Size = (288, 320)
#: Per-dataset sizes where the default does not fit the schedules that read the set.
SIZES: dict[str, Size] = {
    "bsd400_gray": (128, 128),   # DnCNN grey: 40 px patches
    "polyu": (160, 160),         # paper 001's stage-2 pool (polyu/train): 128 px patches and centre crops
}
#: Files of a ``mixed`` set that are grey (the rest are RGB), as in the real set.
GRAY_FILES: dict[str, frozenset[str]] = {"set14": frozenset({"bridge.png"})}
#: Standard deviation (8-bit levels) of the noise that makes a fixture's degraded input from its reference.
NOISE_SIGMA = 6.0
#: Fixed zip member time: the same call writes the same bytes.
ZIP_TIME = (1980, 1, 1, 0, 0, 0)
#: A fixed MATLAB 5 header text (scipy writes the creation time there).
MAT_HEADER = b"MATLAB 5.0 MAT-file, denoisebench fixture".ljust(116)

FixtureBuilder = Callable[[DatasetSpec, int, "Path | None"], dict[str, bytes]]
#: Layout kind -> builder of the files of a fixture (declared path -> bytes), given (spec, images, mirror).
FIXTURE_BUILDERS: Registry[FixtureBuilder] = Registry("fixture layout")


@dataclass(frozen=True)
class Member:
    """One reference image of a fixture and its degraded inputs, as paths inside a declared archive.

    Attributes:
        archive: the declared archive (``spec.files`` path) that holds it.
        clean: the reference's member path (``None``: ``side_by_side``, the reference is in each input's right half).
        noisy: the degraded inputs' member paths (empty: a clean-only set).
        size: (height, width) of each image (of each half for ``side_by_side``).
    """

    archive: str
    clean: str | None
    noisy: tuple[str, ...] = ()
    size: Size = TEST_SIZE


def build_fixture(name: str, out: Path, *, images: int = 2, mirror: Path | None = None) -> tuple[FileEntry, ...]:
    """Write dataset ``name``'s fixture under ``out/<spec.folder>/`` in its published layout.

    Args:
        name: registered dataset name (paper packages' sets included).
        out: folder laid out like the data mirror (``<out>/<folder>/<path>``).
        images: reference images per split (per camera for RENOIR, per density for DID-MDN training) where the
            layout leaves the count free; ``clean`` and ``paired`` sets name every file in their spec and their
            loader reads each, so all of them are written whatever ``images`` is.
        mirror: the data mirror (``denoisebench.mirror.data_mirror()``); needed by ``aux`` sets, whose small
            structural tables are copied from it.

    Returns:
        The files written, in declaration order: path, ``url=None``, sha256, size, and the spec's ``archive`` flag.

    Raises:
        DatasetError: unknown dataset, a layout without a fixture builder or published names, or a mirror needed
            and absent.
    """
    if images < 1:
        raise ConfigError(f"build_fixture({name!r}): images must be >= 1, got {images}")
    try:
        spec = get_spec(name)
    except UnknownNameError:
        raise DatasetError(f"no dataset {name!r} to build a fixture of; known datasets: "
                           f"{', '.join(DATASETS.names())}") from None
    try:
        builder = FIXTURE_BUILDERS.get(spec.kind)
    except UnknownNameError:
        raise DatasetError(f"dataset {name}: no fixture builder for layout {spec.kind!r}; fixture layouts: "
                           f"{', '.join(FIXTURE_BUILDERS.names())}") from None
    files = builder(spec, images, mirror)
    declared = {entry.path: entry for entry in spec.files}
    stray = sorted(set(files) - set(declared))
    if stray:
        raise DatasetError(f"dataset {name}: the fixture builder made undeclared files {stray}")
    folder = Path(out) / spec.folder
    entries = []
    for path, entry in declared.items():
        if path not in files:
            continue
        write_bytes_atomic(folder / path, files[path])
        entries.append(FileEntry(path, None, hashlib.sha256(files[path]).hexdigest(), len(files[path]),
                                 archive=entry.archive))
    return tuple(entries)


# ---- pixels ------------------------------------------------------------------------------------------------

def _seed(*parts: str) -> int:
    return int.from_bytes(hashlib.sha256("\0".join(parts).encode()).digest()[:8], "little")


def _content(key: str, size: Size, channels: int) -> np.ndarray:
    """Smooth seeded uint8 content (H, W, C): a gradient, two low-frequency waves and a bright rectangle."""
    rng = np.random.default_rng(_seed("content", key))
    h, w = size
    y, x = np.mgrid[0:h, 0:w].astype(np.float64) / max(h, w)
    planes = []
    for _ in range(channels):
        a, b = rng.uniform(-1, 1, 2)
        f = rng.uniform(0.5, 3.0, 4)
        phase = rng.uniform(0, 2 * np.pi, 2)
        plane = (0.5 + 0.2 * (a * (x - 0.5) + b * (y - 0.5)) + 0.12 * np.sin(2 * np.pi * (f[0] * x + f[1] * y) + phase[0])
                 + 0.08 * np.sin(2 * np.pi * (f[2] * x - f[3] * y) + phase[1]))
        planes.append(plane)
    image = np.stack(planes, axis=-1)
    top, left = int(rng.integers(0, h // 2)), int(rng.integers(0, w // 2))
    image[top: top + h // 3, left: left + w // 3] += 0.15
    return np.clip(np.rint(image * 255), 0, 255).astype(np.uint8)


def _degraded(clean: np.ndarray, key: str) -> np.ndarray:
    """The reference plus seeded Gaussian noise (uint8)."""
    rng = np.random.default_rng(_seed("noise", key))
    return np.clip(np.rint(clean + rng.normal(0.0, NOISE_SIGMA, clean.shape)), 0, 255).astype(np.uint8)


_FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".bmp": "BMP"}


def _encode(image: np.ndarray, path: str) -> bytes:
    """``image`` (uint8, H x W x C) in the format of ``path``'s suffix (grey images stay one channel)."""
    from PIL import Image

    fmt = _FORMATS.get(PurePosixPath(path).suffix.lower())
    if fmt is None:
        raise DatasetError(f"fixture file {path}: no image format for suffix {PurePosixPath(path).suffix!r} "
                           f"(known: {', '.join(_FORMATS)})")
    buf = io.BytesIO()
    pixels = image[..., 0] if image.shape[-1] == 1 else image
    Image.fromarray(pixels).save(buf, format=fmt, **({"quality": 92} if fmt == "JPEG" else {}))
    return buf.getvalue()


def _zip(members: dict[str, bytes]) -> bytes:
    """A zip of ``members`` with fixed times and modes (deterministic bytes); images stored, bitmaps deflated."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        for name in sorted(members):
            info = zipfile.ZipInfo(name, date_time=ZIP_TIME)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED if name.lower().endswith(".bmp") else zipfile.ZIP_STORED
            archive.writestr(info, members[name])
    return buf.getvalue()


def _size(spec: DatasetSpec) -> Size:
    return SIZES.get(spec.name, TRAIN_SIZE if spec.role == "train" else TEST_SIZE)


def _channels(spec: DatasetSpec, path: str) -> int:
    if spec.color == "gray" or PurePosixPath(path).name in GRAY_FILES.get(spec.name, ()):
        return 1
    return 3


# ---- layouts whose spec names every file -----------------------------------------------------------------

@FIXTURE_BUILDERS.register("clean")
def _clean(spec: DatasetSpec, images: int, mirror: Path | None) -> dict[str, bytes]:
    """Every declared image (the loader reads each one)."""
    return {e.path: _encode(_content(f"{spec.folder}/{e.path}", _size(spec), _channels(spec, e.path)), e.path)
            for e in spec.files}


@FIXTURE_BUILDERS.register("paired")
def _paired(spec: DatasetSpec, images: int, mirror: Path | None) -> dict[str, bytes]:
    """Every declared ``noisy/X`` and its ``clean/X`` (the loader reads each pair)."""
    prefix = spec.layout.noisy_dir.rstrip("/") + "/"
    files = {}
    for entry in spec.files:
        if not entry.path.startswith(prefix):
            continue
        clean_path = f"{spec.layout.clean_dir}/{entry.path[len(prefix):]}"
        clean = _content(f"{spec.folder}/{clean_path}", _size(spec), _channels(spec, clean_path))
        files[clean_path] = _encode(clean, clean_path)
        files[entry.path] = _encode(_degraded(clean, f"{spec.folder}/{entry.path}"), entry.path)
    return files


@FIXTURE_BUILDERS.register("blocks")
def _blocks(spec: DatasetSpec, images: int, mirror: Path | None) -> dict[str, bytes]:
    """The two SIDD-style ``.mat`` files: uint8 (images, 2 blocks, H, H, 3) under the declared keys."""
    import scipy.io

    lay = spec.layout
    if not (lay.noisy_file and lay.clean_file and lay.noisy_key and lay.clean_key):
        raise DatasetError(f"dataset {spec.name}: a blocks layout needs noisy_file, clean_file, noisy_key, clean_key")
    side = min(_size(spec))
    clean = np.stack([np.stack([_content(f"{spec.folder}/{i}/{j}", (side, side), 3) for j in range(2)])
                      for i in range(images)])
    noisy = _degraded(clean, f"{spec.folder}/{lay.noisy_file}")
    files = {}
    for path, key, arr in ((lay.clean_file, lay.clean_key, clean), (lay.noisy_file, lay.noisy_key, noisy)):
        buf = io.BytesIO()
        scipy.io.savemat(buf, {key: arr}, do_compression=True)
        files[path] = MAT_HEADER + buf.getvalue()[len(MAT_HEADER):]
    return files


@FIXTURE_BUILDERS.register("aux")
def _aux(spec: DatasetSpec, images: int, mirror: Path | None) -> dict[str, bytes]:
    """Tables that are not images: copied from the data mirror, checked against the declared sha256."""
    if mirror is None:
        raise DatasetError(f"dataset {spec.name}: its fixture is the real {', '.join(e.path for e in spec.files)} "
                           f"copied from the data mirror; pass mirror=denoisebench.mirror.data_mirror() (a folder "
                           f"holding {spec.folder}/)")
    files = {}
    for entry in spec.files:
        source = Path(mirror) / spec.folder / entry.path
        if not source.is_file():
            raise DatasetError(f"dataset {spec.name}: {source} is missing from the mirror {mirror}; pass the "
                               f"mirror that holds {spec.folder}/{entry.path}")
        data = source.read_bytes()
        if entry.sha256 is not None and hashlib.sha256(data).hexdigest() != entry.sha256:
            raise DatasetError(f"dataset {spec.name}: {source} does not match its declared sha256 {entry.sha256}; "
                               "restore the mirror copy")
        files[entry.path] = data
    return files


@FIXTURE_BUILDERS.register("bundled")
def _bundled(spec: DatasetSpec, images: int, mirror: Path | None) -> dict[str, bytes]:
    """Nothing to write: the images ship inside scikit-image."""
    return {}


# ---- layouts inside archives: member names from the published layouts ---------------------------------------

def _archive_of(spec: DatasetSpec, word: str = "") -> str:
    """The declared archive whose name holds ``word`` (the first one when none does)."""
    archives = [e.path for e in spec.files if e.archive]
    if not archives:
        raise DatasetError(f"dataset {spec.name}: layout {spec.kind!r} reads extracted archives, but no declared "
                           "file is an archive")
    return next((a for a in archives if word and word.lower() in a.lower()), archives[0])


def _div2k(spec: DatasetSpec, images: int) -> list[Member]:
    """``DIV2K_{train,valid}_HR.zip`` -> ``DIV2K_*_HR/<id>.png``, ids from the split lists (0001.., 0801..);
    training images are large enough to be halved and still give DuRN's 256 px crops."""
    members = []
    for split, size in (("train", (528, 640)), ("valid", TEST_SIZE)):
        archive = _archive_of(spec, split)
        members += [Member(archive, f"{archive_stem(archive)}/{i}.png", (), size)
                    for i in spec.split_ids[split][:images]]
    return members


def _sidd_small(spec: DatasetSpec, images: int) -> list[Member]:
    """``SIDD_Small_sRGB_Only/Data/<scene instance>/{GT,NOISY}_SRGB_010.PNG``."""
    archive = _archive_of(spec)
    scenes = [f"{i + 1:04d}_001_S6_00100_00060_3200_L" for i in range(images)]
    base = f"{archive_stem(archive)}/Data"
    return [Member(archive, f"{base}/{s}/GT_SRGB_010.PNG", (f"{base}/{s}/NOISY_SRGB_010.PNG",), (160, 192))
            for s in scenes]


def _renoir(spec: DatasetSpec, images: int) -> list[Member]:
    """``<Camera>_Aligned/Batch_001/IMG_<n>Reference.bmp`` and ``images`` ``IMG_<n>Noisy.bmp`` per camera."""
    members = []
    for entry in spec.files:
        batch = f"{archive_stem(entry.path)}/Batch_001"
        noisy = tuple(f"{batch}/IMG_{2 + k}Noisy.bmp" for k in range(images))
        members.append(Member(entry.path, f"{batch}/IMG_1Reference.bmp", noisy, TEST_SIZE))
    return members


def _gopro(split: str, sequence: str, first: int, size: Size) -> Callable[[DatasetSpec, int], list[Member]]:
    """``GOPRO_Large.zip`` -> ``<split>/<sequence>/{blur,sharp}/<frame>.png`` (the lists' ``<sequence>/<frame>``)."""
    def members(spec: DatasetSpec, images: int) -> list[Member]:
        frames = [f"{first + i:06d}.png" for i in range(images)]
        return [Member(_archive_of(spec), f"{split}/{sequence}/sharp/{f}", (f"{split}/{sequence}/blur/{f}",), size)
                for f in frames]
    return members


def _sots(spec: DatasetSpec, images: int) -> list[Member]:
    """``SOTS.zip`` -> ``indoor/gt/<id>.png`` and ``indoor/hazy/<id>_<k>.png`` (ids 1400.. of the list; k 1, 2)."""
    ids = [1400 + i for i in range(images)]
    return [Member(_archive_of(spec), f"indoor/gt/{i}.png", tuple(f"indoor/hazy/{i}_{k}.png" for k in (1, 2)))
            for i in ids]


def _its(spec: DatasetSpec, images: int) -> list[Member]:
    """``ITS.zip`` -> ``clear/<id>.png`` and ``hazy/<id>_<k>_<beta>.png``; above DuRN's 256 px crops."""
    return [Member(_archive_of(spec), f"clear/{i + 1}.png", (f"hazy/{i + 1}_1_0.90179.png",), (272, 352))
            for i in range(images)]


def _did_mdn_test(spec: DatasetSpec, images: int) -> list[Member]:
    """``DID-MDN-datasets.zip`` -> ``DID-MDN-test/<n>.jpg`` (rainy | clean side by side)."""
    return [Member(_archive_of(spec), None, (f"DID-MDN-test/{n}.jpg",)) for n in range(images)]


def _did_mdn_train(spec: DatasetSpec, images: int) -> list[Member]:
    """``DID-MDN-training/Rain_{Heavy,Medium,Light}/train2018new/<n>.jpg``; halves above DuRN's 256 px crops."""
    return [Member(_archive_of(spec), None, (f"DID-MDN-training/Rain_{d}/train2018new/{n + 1}.jpg",), (272, 272))
            for d in ("Heavy", "Medium", "Light") for n in range(images)]


MemberNames = Callable[[DatasetSpec, int], "list[Member]"]
#: Dataset name -> the members of its fixture in the dataset's published names (given the spec and ``images``).
#: A paper's ``registers`` module may add its own sets. Paper 002's sets are named here for now (with names the
#: authors' lists hold): a new module in its folder would change the code its committed entries were built from.
PUBLISHED: Registry[MemberNames] = Registry("published fixture layout", loader=load_paper_registrations)
PUBLISHED.add("div2k", _div2k)
PUBLISHED.add("sidd_small", _sidd_small)
PUBLISHED.add("renoir", _renoir)
PUBLISHED.add("gopro_train", _gopro("train", "GOPR0372_07_00", 47, (144, 256)))   # DuRN resizes it to 640x360
PUBLISHED.add("gopro_test", _gopro("test", "GOPR0384_11_00", 1, TEST_SIZE))
PUBLISHED.add("reside_sots_indoor", _sots)
PUBLISHED.add("reside_its", _its)
PUBLISHED.add("did_mdn_test", _did_mdn_test)
PUBLISHED.add("did_mdn_train", _did_mdn_train)


def _members(spec: DatasetSpec, images: int) -> list[Member]:
    """The members of every registered set of the same layout sharing ``spec``'s folder (one archive serves
    ``gopro_train`` and ``gopro_test``), so each of their names builds the same bytes."""
    siblings = [s for s in (get_spec(n) for n in DATASETS.names()) if s.folder == spec.folder and s.kind == spec.kind]
    missing = [s.name for s in siblings if s.name not in PUBLISHED]
    if missing:
        raise DatasetError(f"dataset {', '.join(missing)}: no published member names for a fixture of layout "
                           f"{spec.kind!r}; add them to denoisebench.datasets.fixtures.PUBLISHED")
    return [m for s in siblings for m in PUBLISHED.get(s.name)(s, images)]


def _pack(spec: DatasetSpec, images: int,
          image_files: Callable[[DatasetSpec, Member, str], dict[str, bytes]]) -> dict[str, bytes]:
    by_archive: dict[str, dict[str, bytes]] = {}
    for member in _members(spec, images):
        by_archive.setdefault(member.archive, {}).update(image_files(spec, member, f"{spec.folder}/{member.archive}"))
    return {archive: _zip(members) for archive, members in by_archive.items()}


def _separate_files(spec: DatasetSpec, member: Member, key: str) -> dict[str, bytes]:
    """The reference and each input as their own files."""
    if member.clean is None:
        raise DatasetError(f"dataset {spec.name}: fixture member {member} needs a reference file in this layout")
    clean = _content(f"{key}/{member.clean}", member.size, _channels(spec, member.clean))
    files = {member.clean: _encode(clean, member.clean)}
    files.update({path: _encode(_degraded(clean, f"{key}/{path}"), path) for path in member.noisy})
    return files


def _halves(spec: DatasetSpec, member: Member, key: str) -> dict[str, bytes]:
    """Each input as one image of two halves, the degraded one on the ``layout.noisy_dir`` side (DID-MDN: left)."""
    files = {}
    for path in member.noisy:
        clean = _content(f"{key}/{path}", member.size, _channels(spec, path))
        degraded = _degraded(clean, f"{key}/{path}")
        halves = (degraded, clean) if spec.layout.noisy_dir == "left" else (clean, degraded)
        files[path] = _encode(np.concatenate(halves, axis=1), path)
    return files


@FIXTURE_BUILDERS.register("archived")
@FIXTURE_BUILDERS.register("mirrored")
@FIXTURE_BUILDERS.register("batches")
def _archives(spec: DatasetSpec, images: int, mirror: Path | None) -> dict[str, bytes]:
    """Archives of separate reference and input files (DIV2K, SIDD-Small, GoPro, RESIDE, RENOIR)."""
    return _pack(spec, images, _separate_files)


@FIXTURE_BUILDERS.register("side_by_side")
def _side_by_side(spec: DatasetSpec, images: int, mirror: Path | None) -> dict[str, bytes]:
    """Archives of pix2pix-style pairs (DID-MDN)."""
    return _pack(spec, images, _halves)

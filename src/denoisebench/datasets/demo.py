"""The ``demo`` dataset: centre crops of images bundled inside scikit-image (no download).

Splits (colour images load with C=3, ``*_gray`` splits with C=1):

* ``test``: astronaut, coffee, chelsea, centre-cropped to 128x128 (the default split);
* ``train``: rocket, ihc (immunohistochemistry), motorcycle (left view of the Middlebury 2014 stereo pair),
  centre-cropped to 256x256;
* ``test_gray`` / ``train_gray``: the same images converted to 8-bit grey with the MATLAB ``rgb2gray``
  weights (0.2989, 0.5870, 0.1140), rounded, as BSD68 was made;
* ``all``: ``test`` then ``train`` (colour).

Train and test images are different photographs, so no test content leaks into training.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from denoisebench.datasets.catalog import DATASETS
from denoisebench.datasets.spec import DatasetSpec, Layout, files_from_checksums
from denoisebench.errors import DatasetError
from denoisebench.imageio import centre_crop as crop_centre
from denoisebench.imageio import read_uint8, to_float

DEMO_FILES = {
    "astronaut": "astronaut.png", "coffee": "coffee.png", "chelsea": "chelsea.png",
    "rocket": "rocket.jpg", "ihc": "ihc.png", "motorcycle": "motorcycle_left.png",
}
DEMO_TEST = ("astronaut", "coffee", "chelsea")
DEMO_TRAIN = ("rocket", "ihc", "motorcycle")
TEST_CROP, TRAIN_CROP = 128, 256
_GRAY_WEIGHTS = np.array([0.2989, 0.5870, 0.1140])


def skimage_data_dir() -> Path:
    """The folder of scikit-image's bundled sample images."""
    import skimage.data

    return Path(skimage.data.data_dir)


def centre_crop(image: np.ndarray, size: int) -> np.ndarray:
    """:func:`denoisebench.imageio.centre_crop`, failing with a DatasetError."""
    try:
        return crop_centre(image, size)
    except ValueError as exc:
        raise DatasetError(f"demo dataset: {exc}") from exc


def rgb_to_gray_uint8(image: np.ndarray) -> np.ndarray:
    """uint8 RGB (H, W, 3) -> uint8 grey (H, W, 1), MATLAB ``rgb2gray`` weights, rounded."""
    gray = np.rint(image.astype(np.float64) @ _GRAY_WEIGHTS)
    return np.clip(gray, 0, 255).astype(np.uint8)[:, :, None]


def load_demo_image(sample_id: str, size: int, gray: bool) -> np.ndarray:
    """One demo image as float32 (size, size, C) in [0, 1]."""
    path = skimage_data_dir() / DEMO_FILES[sample_id]
    if not path.is_file():
        raise DatasetError(
            f"demo image {sample_id!r}: {path} is missing from the scikit-image installation; "
            "reinstall scikit-image (pip install --force-reinstall scikit-image)"
        )
    arr = centre_crop(read_uint8(path), size)
    return to_float(rgb_to_gray_uint8(arr) if gray else np.ascontiguousarray(arr))


DATASETS.add("demo", DatasetSpec(
    name="demo",
    description="scikit-image bundled photos, centre crops: 3 test (128x128), 3 train (256x256); rgb + gray",
    folder="demo",
    files=files_from_checksums("demo", lambda path: None),
    layout=Layout("bundled", crop={"test": TEST_CROP, "test_gray": TEST_CROP,
                                   "train": TRAIN_CROP, "train_gray": TRAIN_CROP}),
    color="mixed", role="test",
    homepage="https://scikit-image.org/docs/stable/api/skimage.data.html",
    license="public domain / CC0 per skimage.data docstrings; motorcycle: Middlebury 2014 stereo (research use)",
    citation="S. van der Walt et al., 'scikit-image: image processing in Python', PeerJ 2014",
    source="files bundled in scikit-image (skimage/data), hashes pinned for scikit-image 0.26",
    split_ids={"test": DEMO_TEST, "test_gray": DEMO_TEST, "train": DEMO_TRAIN, "train_gray": DEMO_TRAIN,
               "all": DEMO_TEST + DEMO_TRAIN},
    default_split="test",
    notes="No download; root is ignored. Not a benchmark: for the end-to-end demo pipeline only.",
))

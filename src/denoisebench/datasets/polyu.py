"""PolyU scene parsing and the fixed scene-level train/test split.

PolyU crop names follow ``Camera_aperture_shutter_ISO_scene_index`` (``Canon5D2_5_160_3200_chair_11``).
Crops of one scene are strongly correlated, so the split is by scene: a scene is never in both splits.
The scene key is the lower-cased scene word alone (``toy`` shot with three cameras is one scene), which is
the conservative grouping: 23 scenes for the 100 public crops.

The committed test scenes are the ``ceil(0.3 * n_scenes)`` scenes with the smallest
``sha256("polyu-scene:" + scene)`` (:func:`hash_split_scenes` reproduces the list); they hold 33 of the 100
pairs and cover all five cameras.
"""

from __future__ import annotations

import hashlib
import math
from pathlib import PurePosixPath
from typing import Iterable

from denoisebench.errors import DatasetError

#: Scenes of the PolyU test split (the other scenes form the train split).
POLYU_TEST_SCENES: tuple[str, ...] = ("ball", "book", "go", "photo", "plant", "plug", "toy")
TEST_FRACTION = 0.3
_SALT = "polyu-scene:"


def parse_polyu_name(name: str) -> dict[str, str]:
    """Split a PolyU crop name (with or without suffix) into camera, aperture, shutter, iso, scene, index.

    Raises:
        DatasetError: the name does not follow ``Camera_aperture_shutter_ISO_scene_index``.
    """
    stem = PurePosixPath(name).stem
    parts = stem.split("_")
    scene = "_".join(parts[4:-1]).strip("_").lower() if len(parts) >= 6 else ""
    if not scene or not parts[-1].isdigit():
        raise DatasetError(
            f"PolyU file {name!r} does not follow Camera_aperture_shutter_ISO_scene_index "
            "(e.g. Canon5D2_5_160_3200_chair_11.JPG); rename it or remove it from the PolyU folder"
        )
    camera, aperture, shutter, iso = parts[:4]
    return {"camera": camera, "aperture": aperture, "shutter": shutter, "iso": iso, "scene": scene,
            "index": parts[-1]}


def polyu_scene(name: str) -> str:
    """The scene key of a PolyU crop name."""
    return parse_polyu_name(name)["scene"]


def hash_split_scenes(scenes: Iterable[str], fraction: float = TEST_FRACTION) -> tuple[str, ...]:
    """The rule that produced :data:`POLYU_TEST_SCENES`: the smallest salted hashes, ``ceil(fraction * n)`` of them."""
    unique = sorted(set(scenes))
    ranked = sorted(unique, key=lambda s: hashlib.sha256(f"{_SALT}{s}".encode()).hexdigest())
    return tuple(sorted(ranked[: math.ceil(fraction * len(unique))]))


def polyu_splits(ids: Iterable[str], test_scenes: Iterable[str] = POLYU_TEST_SCENES) -> dict[str, tuple[str, ...]]:
    """``{"train": ids, "test": ids}`` for sample ids (file stems), split by scene."""
    test = set(test_scenes)
    ordered = sorted(ids)
    return {
        "train": tuple(i for i in ordered if polyu_scene(i) not in test),
        "test": tuple(i for i in ordered if polyu_scene(i) in test),
    }

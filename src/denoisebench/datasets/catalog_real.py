"""Declarations of the real-noise sets: PolyU, CC15, SIDD validation blocks and RENOIR."""

from __future__ import annotations

from pathlib import PurePosixPath
from urllib.parse import quote

from denoisebench.datasets.catalog import DATASETS, _source
from denoisebench.datasets.polyu import polyu_splits
from denoisebench.datasets.spec import DatasetSpec, FileEntry, Layout, read_checksums

POLYU = "csjunxu/PolyU-Real-World-Noisy-Images-Dataset", "3af0f2646b267a00446fe4b7113a15e67bc80b4e"
# The MANIFEST spells the repository MCWNNM_ICCV2017; GitHub's index spells it MCWNNM-ICCV2017 (used here).
MCWNNM = "csjunxu/MCWNNM-ICCV2017", "e6db69b01ff21e89461cc49893c89afb1a9a941c"
XU_LICENSE = "HK PolyU non-commercial licence (teaching, research, personal use; keep the copyright notice)"


def _paired_files(name: str, repo_commit: tuple[str, str], repo_folder: str) -> tuple[FileEntry, ...]:
    """``noisy/X`` <- ``<repo_folder>/X_real``, ``clean/X`` <- ``<repo_folder>/X_mean`` (renamed, bytes unchanged)."""
    repo, commit = repo_commit
    suffix = {"noisy": "_real", "clean": "_mean"}
    files = []
    for path, digest in read_checksums(name):
        sub, stem, ext = path.split("/", 1)[0], PurePosixPath(path).stem, PurePosixPath(path).suffix
        remote = f"{repo_folder}/{stem}{suffix[sub]}{ext}"
        files.append(FileEntry(path, f"https://raw.githubusercontent.com/{repo}/{commit}/{quote(remote)}", digest))
    return tuple(files)


def _pair_ids(name: str) -> list[str]:
    return [PurePosixPath(p).stem for p, _ in read_checksums(name) if p.startswith("noisy/")]


DATASETS.add("polyu", DatasetSpec(
    name="polyu",
    description="PolyU real-world noisy images: 100 512x512 crop pairs (noisy shot / mean of shots), 5 cameras",
    folder="PolyU",
    files=_paired_files("polyu", POLYU, "CroppedImages"),
    layout=Layout("paired"), color="rgb", role="test",
    homepage="https://github.com/csjunxu/PolyU-Real-World-Noisy-Images-Dataset",
    license=XU_LICENSE,
    citation="J. Xu, H. Li, Z. Liang, D. Zhang, L. Zhang, 'Real-world Noisy Image Denoising: A New Benchmark', "
             "arXiv:1804.02603, 2018",
    source=_source(POLYU, "CroppedImages") + " (X_real -> noisy/X, X_mean -> clean/X)",
    split_ids=polyu_splits(_pair_ids("polyu")),
    notes="'clean' is the mean of repeated shots, not a noise-free image. Split by scene: see polyu.py.",
))

DATASETS.add("cc15", DatasetSpec(
    name="cc15",
    description="CC15: 15 512x512 real-noise crops of Nam et al. (noisy shot / mean image), 3 cameras",
    folder="CC15",
    files=_paired_files("cc15", MCWNNM, "Real_ccnoise_denoised_part"),
    layout=Layout("paired"), color="rgb", role="test",
    homepage="http://snam.ml/research/ccnoise",
    license="images by Nam et al. (original terms unavailable); MCWNNM package under the HK PolyU "
            "non-commercial licence",
    citation="S. Nam, Y. Hwang, Y. Matsushita, S.J. Kim, 'A Holistic Approach to Cross-Channel Image Noise "
             "Modeling and its Application to Image Denoising', CVPR 2016",
    source=_source(MCWNNM, "Real_ccnoise_denoised_part") + " (X_real -> noisy/X, X_mean -> clean/X)",
    notes="'clean' is the mean of repeated shots, not a noise-free image.",
))

SIDD_NOISY, SIDD_GT = "ValidationNoisyBlocksSrgb", "ValidationGtBlocksSrgb"
SIDD_SERVER = "http://130.63.97.225/share/SIDD_Blocks"
DATASETS.add("sidd_val", DatasetSpec(
    name="sidd_val",
    description="SIDD sRGB validation: 40 images x 32 blocks of 256x256 (1280 noisy/GT pairs), uint8 .mat",
    folder="SIDD",
    files=(
        FileEntry(f"{SIDD_NOISY}.mat", f"{SIDD_SERVER}/{SIDD_NOISY}.mat"),
        FileEntry(f"{SIDD_GT}.mat", f"{SIDD_SERVER}/{SIDD_GT}.mat"),
    ),
    layout=Layout("blocks", noisy_file=f"{SIDD_NOISY}.mat", clean_file=f"{SIDD_GT}.mat",
                  noisy_key=SIDD_NOISY, clean_key=SIDD_GT),
    color="rgb", role="test",
    homepage="https://www.eecs.yorku.ca/~kamel/sidd/benchmark.php",
    license="SIDD terms on the official site (research use; cite the paper)",
    citation="A. Abdelhamed, S. Lin, M.S. Brown, 'A High-Quality Denoising Dataset for Smartphone Cameras', "
             "CVPR 2018",
    source="SIDD server mirror (URL referenced by third-party code, unverified offline)",
    notes="No offline copy and no published sha256: the hash is recorded on first download (trust on first "
          "use). If the server URL is dead, download the two .mat files from the official page into "
          "<root>/SIDD/ or a mirror's SIDD/ folder.",
))

RENOIR_BASE = "http://ani.stat.fsu.edu/~abarbu/Renoir"
RENOIR_CAMERAS = ("Mi3", "S90", "T3i")
DATASETS.add("renoir", DatasetSpec(
    name="renoir",
    description="RENOIR real low-light noise: aligned 8-bit BMPs, Batch_* folders with Reference/Noisy images",
    folder="RENOIR",
    files=tuple(FileEntry(f"{cam}_Aligned.zip", f"{RENOIR_BASE}/{cam}_Aligned.zip", archive=True)
                for cam in RENOIR_CAMERAS),
    layout=Layout("batches"), color="rgb", role="test",
    homepage="http://ani.stat.fsu.edu/~abarbu/Renoir.html",
    license="terms of the official page (research use; cite the paper); no explicit licence found",
    citation="J. Anaya, A. Barbu, 'RENOIR - A Dataset for Real Low-Light Image Noise Reduction', "
             "JVCIR 2018 (arXiv:1409.8230)",
    source="official RENOIR page (archive URLs unverified offline)",
    notes="Archive names follow the official page (Mi3/S90/T3i aligned sets); zip or tar archives are both "
          "accepted. No published sha256: recorded on first download. clean = mean of the batch's low-noise "
          "images (*Reference.bmp and *full.bmp when present), rounded to 8 bits; one sample per *Noisy.bmp.",
))

# ---- Paper 001 (issue 12): the pre-training set (DIV2K) and the meta-transfer set (SIDD-Small sRGB) ----------
DIV2K_BASE = "http://data.vision.ee.ethz.ch/cvl/DIV2K"
DATASETS.add("div2k", DatasetSpec(
    name="div2k",
    description="DIV2K high-resolution images: 800 train + 100 validation PNGs (~2K px), clean",
    folder="DIV2K",
    files=tuple(FileEntry(f"{part}.zip", f"{DIV2K_BASE}/{part}.zip", archive=True)
                for part in ("DIV2K_train_HR", "DIV2K_valid_HR")),
    layout=Layout("archived", clean_file="**/*.png"), color="rgb", role="train",
    homepage="https://data.vision.ee.ethz.ch/cvl/DIV2K/",
    license="DIV2K terms of the official page (academic research use)",
    citation="E. Agustsson, R. Timofte, 'NTIRE 2017 Challenge on Single Image Super-Resolution: Dataset and "
             "Study', CVPR Workshops 2017",
    source="official DIV2K host (URLs unverified offline)",
    split_ids={"train": tuple(f"{i:04d}" for i in range(1, 801)), "valid": tuple(f"{i:04d}" for i in range(801, 901))},
    notes="No published sha256: the hashes are recorded on first download (trust on first use). Paper 001 "
          "pre-trains on the train split with composite synthetic noise and validates on the valid split.",
))

DATASETS.add("sidd_small", DatasetSpec(
    name="sidd_small",
    description="SIDD-Small sRGB: 160 noisy/ground-truth pairs of smartphone scenes (one pair per scene instance)",
    folder="SIDD_Small",
    files=(FileEntry("SIDD_Small_sRGB_Only.zip", f"{SIDD_SERVER.rsplit('/', 1)[0]}/SIDD_Small_sRGB_Only.zip",
                     archive=True),),
    layout=Layout("archived", clean_file="**/GT_SRGB_*.PNG", noisy_file="**/NOISY_SRGB_*.PNG"),
    color="rgb", role="train",
    homepage="https://www.eecs.yorku.ca/~kamel/sidd/dataset.php",
    license="SIDD terms on the official site (research use; cite the paper)",
    citation="A. Abdelhamed, S. Lin, M.S. Brown, 'A High-Quality Denoising Dataset for Smartphone Cameras', "
             "CVPR 2018",
    source="SIDD server (same host as sidd_val; URL unverified offline)",
    notes="Sample id = the scene-instance folder (Data/<id>/GT_SRGB_010.PNG, NOISY_SRGB_010.PNG). No published "
          "sha256: recorded on first download. If the URL is dead, place the official zip in <root>/SIDD_Small/.",
))

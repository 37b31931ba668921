"""Paper 002's paired restoration sets, registered from its folder: GoPro (motion blur), RESIDE ITS / SOTS-indoor
(haze), DID-MDN (rain streaks). LIVE1 (JPEG test) is a core set; DIV2K (JPEG training, halved by the task pool of
:mod:`.pairs`) is declared in the core with paper 001's sets.

Layouts are the published archives' (the core ``mirrored`` and ``side_by_side`` loaders read them), and the samples
are the ones the authors' file lists name (``DualResidualNetworks/lists/``, ``6272-code/lists/``; the tests build
fixtures from those lists and check the loaders return exactly them):

- GoPro ``GOPRO_Large/{train,test}/<sequence>/{blur,sharp}/<frame>.png``; lists ``<sequence>/<frame>.png``: 2,103
  train and 1,111 test pairs, every pair of the archive. The DuRN scripts resize both to 640x360 (train and test).
- RESIDE SOTS indoor ``indoor/{hazy,gt}``: hazy ``<id>_<k>.png`` (k = 1..10) of clear ``<id>.png``; the list names
  the 50 clear ids 1400..1449 (500 pairs). ITS ``{hazy,clear}``: hazy ``<id>_<k>_<beta>.png`` of ``<id>.png``;
  the list names the 1,399 clear ids (13,990 pairs; DuRN draws one of the ten per clear image and step).
- DID-MDN ``DID-MDN-training/Rain_{Heavy,Medium,Light}/train2018new/<n>.jpg`` (4,000 names x 3 densities) and
  ``DID-MDN-test/<n>.jpg`` (1,201: 0..1200), each image rainy | clean side by side (DuRN crops the left half as
  the input).

None of them is in the offline mirror and none publishes a sha256: each archive's hash is recorded on first
download (trust on first use, as SIDD and RENOIR). The download URLs are the ones the official pages give and are
unverified offline; when one is dead, put the archive (or its extracted folder) into ``<root>/<folder>/`` by hand.
The quick and demo profiles use the synthetic stand-ins of :mod:`.degradations` instead (params.yaml, paper 002).
"""

from __future__ import annotations

from denoisebench.datasets.catalog import DATASETS
from denoisebench.datasets.spec import DatasetSpec, FileEntry, Layout

GOPRO_ZIP = FileEntry("GOPRO_Large.zip", "https://cv.snu.ac.kr/~snah/Deblur/dataset/GOPRO_Large.zip", archive=True)
GOPRO = {
    "folder": "GoPro", "files": (GOPRO_ZIP,), "color": "rgb",
    "homepage": "https://seungjunnah.github.io/Datasets/gopro",
    "license": "CC BY 4.0 (official page)",
    "citation": "S. Nah, T.H. Kim, K.M. Lee, 'Deep Multi-scale Convolutional Neural Network for Dynamic Scene "
             "Deblurring', CVPR 2017",
    "source": "official GoPro page: GOPRO_Large.zip (URL unverified offline)",
}
for split, count, role in (("test", "1,111", "test"), ("train", "2,103", "train")):
    DATASETS.add(f"gopro_{split}", DatasetSpec(
        name=f"gopro_{split}",
        description=f"GoPro {split}: {count} blurred/sharp 1280x720 pairs (averaged 240 fps frames), "
                    "GOPRO_Large/<split>/<sequence>/{blur,sharp}",
        layout=Layout("mirrored", noisy_dir="blur", clean_dir="sharp", within=split), role=role,
        notes="Paper 002 counts 2,013 training pairs. The DuRN test protocol resizes test images to 640x360 "
              "(method-specs 1.2); this loader returns them at full size.", **GOPRO))

RESIDE_HOME = "https://sites.google.com/view/reside-dehaze-datasets"
RESIDE_CITE = ("B. Li, W. Ren, D. Fu, D. Tao, D. Feng, W. Zeng, Z. Wang, 'Benchmarking Single-Image Dehazing and "
               "Beyond', IEEE TIP 2019 (arXiv:1712.04143)")
DATASETS.add("reside_sots_indoor", DatasetSpec(
    name="reside_sots_indoor",
    description="RESIDE SOTS indoor: 500 synthetic hazy images with their clear references (hazy/ID_k, gt/ID)",
    folder="RESIDE_SOTS", files=(FileEntry("SOTS.zip", None, archive=True),),
    layout=Layout("mirrored", noisy_dir="hazy", clean_dir="gt", within="indoor", clean_stem_sep="_"),
    color="rgb", role="test", homepage=RESIDE_HOME, license="RESIDE terms (research use; cite the paper)",
    citation=RESIDE_CITE, source="official RESIDE page (Dropbox / Baidu / OneDrive links; no stable direct URL)",
    notes="Download SOTS from the official page into <root>/RESIDE_SOTS/ (archive SOTS.zip or its extracted "
          "folder); the hash of the archive is recorded on first use.",
))
DATASETS.add("reside_its", DatasetSpec(
    name="reside_its",
    description="RESIDE ITS: 13,990 indoor hazy images (hazy/ID_k_beta) from 1,399 clear NYU-v2 images (clear/ID)",
    folder="RESIDE_ITS", files=(FileEntry("ITS.zip", None, archive=True),),
    layout=Layout("mirrored", noisy_dir="hazy", clean_dir="clear", clean_stem_sep="_"),
    color="rgb", role="train", homepage=RESIDE_HOME, license="RESIDE terms (research use; cite the paper)",
    citation=RESIDE_CITE, source="official RESIDE page (no stable direct URL)",
    notes="Download ITS from the official page into <root>/RESIDE_ITS/.",
))
DID_MDN = {
    "folder": "DID-MDN", "files": (FileEntry("DID-MDN-datasets.zip", None, archive=True),), "color": "rgb",
    "homepage": "https://github.com/hezhangsprinter/DID-MDN",
    "license": "terms of the official repository (research use; cite the paper)",
    "citation": "H. Zhang, V.M. Patel, 'Density-aware Single Image De-raining using a Multi-stream Dense Network', "
             "CVPR 2018",
    "source": "official repository README (Google Drive link; no stable direct URL)",
}
DATASETS.add("did_mdn_test", DatasetSpec(
    name="did_mdn_test",
    description="DID-MDN test: 1,201 rainy | clean image pairs stored side by side (pix2pix layout)",
    layout=Layout("side_by_side", noisy_dir="left", within="DID-MDN-test"), role="test",
    notes="The left half is the rainy input, as DuRN's DIDMDNdata_loader crops it. Rain made in Photoshop at "
          "three densities.", **DID_MDN,
))
DATASETS.add("did_mdn_train", DatasetSpec(
    name="did_mdn_train",
    description="DID-MDN training: 4,000 images at 3 rain densities (12,000 rainy | clean pairs side by side)",
    layout=Layout("side_by_side", noisy_dir="left", within="train2018new"), role="train",
    notes="DID-MDN-training/Rain_{Heavy,Medium,Light}/train2018new/<n>.jpg; DuRN draws one density per image and "
          "step, here every density is a sample (ids carry the density).", **DID_MDN,
))

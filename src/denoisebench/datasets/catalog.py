"""The dataset registry and the declarations of the single-image sets and auxiliary tables.

Real-noise sets are declared in :mod:`.catalog_real`, the scikit-image demo set in :mod:`.demo`.
File lists and hashes come from the package data ``checksums/<name>.sha256`` (generated from the offline
mirror's ``checksums.sha256``); URLs point at the official host (Kodak24) or at the pinned commit of the public
repository whose bytes those hashes describe.
"""

from __future__ import annotations

from urllib.parse import quote

from denoisebench.datasets.spec import DatasetSpec, Layout, files_from_checksums
from denoisebench.registry import Registry, load_paper_registrations

DATASETS: Registry[DatasetSpec] = Registry("dataset", loader=load_paper_registrations)

FFDNET = "cszn/FFDNet", "e787f46df2f374ff3591186706229cb9a0591fea"
DNCNN = "cszn/DnCNN", "e93b27812d3ff523a3a79d19e5e50d233d7a8d0a"
MAJED = "majedelhelou/denoising_datasets", "58234876fef6f1b56306705c78dfd40cdb837b86"
SURE = "Magauiya/Extended_SURE", "1bcec3b61d7c3687f0fc906d684cc7d29e59aab4"
CBDNET = "GuoShi28/CBDNet", "083c2e1439f8908d58d75c1c4cf87c9b74873427"

BSDS_HOME = "https://www2.eecs.berkeley.edu/Research/Projects/CS/vision/bsds/"
BSDS500_HOME = "https://www2.eecs.berkeley.edu/Research/Projects/CS/vision/grouping/resources.html"
BSDS_LICENSE = "BSDS terms: non-commercial research and educational use (images from the Corel collection)"
BSDS_CITE = (
    "D. Martin, C. Fowlkes, D. Tal, J. Malik, 'A Database of Human Segmented Natural Images and its Application "
    "to Evaluating Segmentation Algorithms and Measuring Ecological Statistics', ICCV 2001"
)
DNCNN_CITE = (
    "K. Zhang, W. Zuo, Y. Chen, D. Meng, L. Zhang, 'Beyond a Gaussian Denoiser: Residual Learning of Deep CNN "
    "for Image Denoising', IEEE TIP 2017"
)


def github_raw(repo_commit: tuple[str, str], folder: str):
    """A path -> URL rule for files under ``folder`` of a pinned GitHub commit."""
    repo, commit = repo_commit

    def url_for(path: str) -> str:
        return f"https://raw.githubusercontent.com/{repo}/{commit}/{quote(folder)}/{quote(path)}"

    return url_for


def _source(repo_commit: tuple[str, str], folder: str) -> str:
    return f"{repo_commit[0]} @ {repo_commit[1]}, {folder}/"


def _clean_set(name: str, folder: str, repo_commit: tuple[str, str], repo_folder: str, **kwargs: object) -> DatasetSpec:
    files = files_from_checksums(name, github_raw(repo_commit, repo_folder))
    spec = DatasetSpec(name=name, folder=folder, files=files, layout=Layout("clean"),
                       source=_source(repo_commit, repo_folder), **kwargs)  # type: ignore[arg-type]
    return DATASETS.add(name, spec)


DATASETS.add("kodak24", DatasetSpec(
    name="kodak24",
    description="Kodak PhotoCD PCD0992 suite, 24 full-resolution colour images (768x512 / 512x768)",
    folder="Kodak24",
    files=files_from_checksums("kodak24", lambda p: f"http://r0k.us/graphics/kodak/kodak/{p}"),
    layout=Layout("clean"), color="rgb", role="test",
    homepage="http://r0k.us/graphics/kodak/",
    license="released by Eastman Kodak for unrestricted usage (per r0k.us); no formal licence known",
    citation="Kodak Lossless True Color Image Suite (PhotoCD PCD0992), http://r0k.us/graphics/kodak/",
    source="official files of r0k.us (byte-identical to cszn/IRCNN @ d9dcd537, testsets/Set24/)",
    notes="Full images, not FFDNet's 500x500 centre crops; check which one a paper used before comparing.",
))

_clean_set(
    "cbsd68", "CBSD68", FFDNET, "testsets/CBSD68",
    description="Colour BSD68: the 68 BSDS300 test images (481x321 / 321x481)",
    color="rgb", role="test", homepage=BSDS_HOME, license=BSDS_LICENSE, citation=BSDS_CITE,
)
_clean_set(
    "bsd68_gray", "BSD68_gray", FFDNET, "testsets/BSD68",
    description="Grey BSD68 (round(MATLAB rgb2gray(CBSD68))), test001..test068 in CBSD68 id order",
    color="gray", role="test", homepage=BSDS_HOME, license=BSDS_LICENSE, citation=BSDS_CITE,
)
_clean_set(
    "set12", "Set12", FFDNET, "testsets/Set12",
    description="Set12: 12 classic grey test images of DnCNN (256x256 and 512x512)",
    color="gray", role="test", homepage="https://github.com/cszn/DnCNN",
    license="none stated (classic test images of mixed origin)", citation=DNCNN_CITE,
)
_clean_set(
    "set14", "Set14", MAJED, "CSet14",
    description="Set14: 13 colour + 1 grey (bridge) images, pixel-identical to DnCNN's BMPs",
    color="mixed", role="test", homepage="https://github.com/cszn/DnCNN/tree/master/testsets/Set14",
    license="none known",
    citation="R. Zeyde, M. Elad, M. Protter, 'On Single Image Scale-Up Using Sparse-Representations', "
             "Curves and Surfaces 2010",
    notes="bridge.png is grey: it loads with C=1 while the others load with C=3.",
)
_clean_set(
    "live1", "LIVE1", DNCNN, "testsets/LIVE1",
    description="LIVE1: 29 colour reference images of the LIVE IQA database (JPEG artifact-removal test set)",
    color="rgb", role="test", homepage="https://live.ece.utexas.edu/research/quality/subjective.htm",
    license="research use; cite the LIVE database papers",
    citation="H.R. Sheikh, Z. Wang, L. Cormack, A.C. Bovik, 'LIVE Image Quality Assessment Database Release 2'",
)
_clean_set(
    "cbsd432", "CBSD432", SURE, "Dataset/CBSD432",
    description="Colour BSD432 training set: BSDS500 minus the 68 CBSD68 images (JPEG as committed)",
    color="rgb", role="train", homepage=BSDS500_HOME, license=BSDS_LICENSE, citation=BSDS_CITE,
    notes="Byte-identity with Berkeley's tarball is unverified; decoded pixels depend on the JPEG decoder.",
)
_clean_set(
    "bsd400_gray", "BSD400_gray", DNCNN, "TrainingCodes/DnCNN_TrainingCodes_v1.0/data/Train400",
    description="DnCNN grey training set Train400: 400 grey 180x180 BSD crops",
    color="gray", role="train", homepage="https://github.com/cszn/DnCNN", license=BSDS_LICENSE,
    citation=DNCNN_CITE,
)

DATASETS.add("cbdnet_crf", DatasetSpec(
    name="cbdnet_crf",
    description="DoRF camera response curves and inverses (CRF_Map / ICRF_Map) for the CBDNet noise model",
    folder="CBDNet_CRF",
    files=files_from_checksums("cbdnet_crf", github_raw(CBDNET, "utils"),
                               sizes={"201_CRF_data.mat": 682_821, "dorfCurvesInv.mat": 371_078}),
    layout=Layout("aux"), color="mixed", role="aux",
    homepage="https://github.com/GuoShi28/CBDNet",
    license="research use; cite CBDNet and DoRF",
    citation="S. Guo, Z. Yan, K. Zhang, W. Zuo, L. Zhang, 'Toward Convolutional Blind Denoising of Real "
             "Photographs', CVPR 2019; M.D. Grossberg, S.K. Nayar, 'What is the Space of Camera Response "
             "Functions?', CVPR 2003",
    source=_source(CBDNET, "utils"),
))

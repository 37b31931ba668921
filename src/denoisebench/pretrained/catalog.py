"""Declarations of the authors' released DnCNN and FFDNet models (MatConvNet, MATLAB v7.3).

Each :class:`PretrainedSpec` names the file in its repository at a pinned commit (the official download URL is
the raw-file URL there), its sha256 and the benchmark network it converts into. The published numbers the
DnCNN models must reproduce are in ``docs/methods.md`` (and the weights mirror's ``MANIFEST.md``).
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

from denoisebench.registry import Registry, load_paper_registrations

DNCNN_REPO, DNCNN_COMMIT = "cszn/DnCNN", "e93b27812d3ff523a3a79d19e5e50d233d7a8d0a"
FFDNET_REPO, FFDNET_COMMIT = "cszn/FFDNet", "e787f46df2f374ff3591186706229cb9a0591fea"


@dataclass(frozen=True)
class PretrainedSpec:
    """One released model.

    Attributes:
        name: registry name (``dncnn_s25``).
        description: one line.
        repo, commit, path: where the file lives upstream (``path`` inside the repository).
        local: path under the weights folder (mirror and ``data/raw/weights``): ``<Folder>/<file>``.
        sha256: expected digest of the ``.mat`` file.
        arch: benchmark network, ``dncnn`` or ``ffdnet``.
        channels, depth, features: its architecture.
        sigma: the single AWGN sigma (0-255) a DnCNN-S model was trained for; None for blind/non-blind models.
        clip: FFDNet trained on clipped, uint8-quantised noisy inputs (the ``Clip`` models).
    """

    name: str
    description: str
    repo: str
    commit: str
    path: str
    local: str
    sha256: str
    arch: str
    channels: int
    depth: int
    features: int = 64
    sigma: float | None = None
    clip: bool = False

    @property
    def url(self) -> str:
        """Official raw-file URL at the pinned commit."""
        return f"https://raw.githubusercontent.com/{self.repo}/{self.commit}/{quote(self.path)}"


PRETRAINED: Registry[PretrainedSpec] = Registry("pretrained model", loader=load_paper_registrations)


def _dncnn(name: str, description: str, file: str, sha256: str, channels: int, depth: int,
           sigma: float | None = None) -> PretrainedSpec:
    return PRETRAINED.add(name, PretrainedSpec(name, description, DNCNN_REPO, DNCNN_COMMIT, f"model/{file}",
                                               f"DnCNN/{file}", sha256, "dncnn", channels, depth, 64, sigma))


def _ffdnet(name: str, description: str, file: str, sha256: str, channels: int, clip: bool) -> PretrainedSpec:
    depth, features = (12, 96) if channels == 3 else (15, 64)
    return PRETRAINED.add(name, PretrainedSpec(name, description, FFDNET_REPO, FFDNET_COMMIT, f"models/{file}",
                                               f"FFDNet/{file}", sha256, "ffdnet", channels, depth, features,
                                               clip=clip))


_dncnn("dncnn_s15", "DnCNN-S, grey, AWGN sigma 15, 17 layers", "specifics/sigma=15.mat",
       "657d5115fa05d371dbf0df1f0a931eff274dae29d08a9cc0824a28caf2460e21", 1, 17, 15)
_dncnn("dncnn_s25", "DnCNN-S, grey, AWGN sigma 25, 17 layers", "specifics/sigma=25.mat",
       "5a5404c9e3ef14e353760e14b885439408a654618e14f13b2e97b99b9835020b", 1, 17, 25)
_dncnn("dncnn_s50", "DnCNN-S, grey, AWGN sigma 50, 17 layers", "specifics/sigma=50.mat",
       "517dc0b55a8da2c129704ed7921b8557aac40cf3aae9f700dc41a9e25cad0983", 1, 17, 50)
_dncnn("dncnn_gray_blind", "DnCNN-B, grey, blind (sigma 0-55), 20 layers", "GD_Gray_Blind.mat",
       "37f76da0b71dd2b2789ce91848fe2f184ab486203c9af9ac1b98199b60ea02b0", 1, 20)
_dncnn("dncnn_color_blind", "CDnCNN-B, colour, blind (sigma 0-55), 20 layers", "GD_Color_Blind.mat",
       "57db5437a44037e7675a99042fe7b14d3dcdf1c333d3ec665855566e8a59795c", 3, 20)
_ffdnet("ffdnet_gray", "FFDNet grey, sigma 0-75, noisy input not clipped", "FFDNet_gray.mat",
        "14c231e87a444a9bd85b0b5e174e73b4f6ac50bf4050e75a0d3f4d69f77a2093", 1, False)
_ffdnet("ffdnet_color", "FFDNet colour, sigma 0-75, noisy input not clipped", "FFDNet_color.mat",
        "a4b5a9da21294ab9ba6ed5c6cc459c46dff20c025eb7d3ab82e8e0bb00541793", 3, False)
_ffdnet("ffdnet_clip_gray", "FFDNet grey for clipped, uint8-quantised noisy input", "FFDNet_Clip_gray.mat",
        "c51ca4b7920313015caa5a773339701bc3d0c900b41a5aed7847efd1243400f3", 1, True)
_ffdnet("ffdnet_clip_color", "FFDNet colour for clipped, uint8-quantised noisy input", "FFDNet_Clip_color.mat",
        "7966f04fbe529d45181a3a19b51fff7f1939a9fefce8a0b44dc878b3cd6bf6a2", 3, True)

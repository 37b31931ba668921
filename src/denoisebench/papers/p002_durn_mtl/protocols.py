"""Paper 002's metric protocols (the DuRN test scripts, method-specs 5(e)), registered from its folder.

- ``durn``: RGB, output truncated to uint8, skimage-default SSIM (DuRN noise (PolyU), GoPro, SOTS).
- ``durn_y``: the same on OpenCV's Y channel (DuRN rain, LIVE1 JPEG).
"""

from __future__ import annotations

from denoisebench.metrics import PROTOCOLS, Protocol

PROTOCOLS.add("durn", Protocol(quant="trunc", ssim="skimage_default"))
PROTOCOLS.add("durn_y", Protocol(space="y_opencv", quant="trunc", ssim="skimage_default"))

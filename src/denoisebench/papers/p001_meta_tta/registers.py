"""Paper 001's metric protocols, registered from its folder (``Paper.registers``).

- ``ttaid``: agusgun/TTAID ``utils/metrics.py``: float [0, 1] after clamping, no quantisation, skimage SSIM
  (uniform 7x7 window). The official ``validate`` scores the output *after* meta-test this way (it clamps it).
- ``ttaid_before``: the same metric on the output as it is: the official ``validate`` stores the estimate *before*
  adaptation ahead of its clamp (``RealDenoiserMetaTransfer.validate``, all three modes), so the "without
  meta-testing" score sees out-of-range values.
"""

from __future__ import annotations

from denoisebench.metrics import PROTOCOLS, Protocol

PROTOCOLS.add("ttaid", Protocol(quant="float", ssim="skimage_default"))
PROTOCOLS.add("ttaid_before", Protocol(quant="float_unclipped", ssim="skimage_default"))

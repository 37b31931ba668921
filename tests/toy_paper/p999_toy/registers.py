"""The toy paper's own noise model, dataset and metric protocol, registered from its folder (no core edit)."""

from __future__ import annotations

from dataclasses import replace

from denoisebench.datasets.catalog import DATASETS
from denoisebench.metrics import PROTOCOLS, Protocol
from denoisebench.noise.base import NOISE_MODELS
from denoisebench.noise.gaussian import AWGN


@NOISE_MODELS.register("toy_noise")
class ToyNoise(AWGN):
    """AWGN under the toy paper's own name (sigma in 0-255 units)."""

    name = "toy_noise"


#: The demo photographs under the toy paper's own dataset name.
DATASETS.add("toy_set", replace(DATASETS.get("demo"), name="toy_set",
                                description="the demo photographs, declared by the toy paper"))
#: The toy paper's protocol: 4-pixel border shaved.
PROTOCOLS.add("toy_shave4", Protocol(border=4))

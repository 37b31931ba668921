"""The authors' released DnCNN / FFDNet models as a benchmark method: method ``pretrained`` (predict only).

Config (an entry of ``methods.classical`` in params.yaml):
    model: a name of :data:`denoisebench.pretrained.PRETRAINED` (``denoisebench pretrained list``), required.
    weights_root: folder holding the fetched files (``<weights_root>/<Folder>/<file>``), default
        ``data/raw/weights`` (where the ``download`` stage puts them).
    fetch: fetch the file (mirror first, then the official URL) when it is missing, default false: in the
        pipeline the ``download`` stage fetches it; the CLI (``denoise --pretrained``) fetches on demand.

DnCNN models return ``y - R(y)``; FFDNet models take the noise level: the cell's sigma when known (synthetic
AWGN), else the image's estimated sigma (as for every non-blind method). The network's channel count is put into
``config["channels"]``, so a colour model runs on grey images by channel replication and a grey model is not
evaluated on colour sets (see :mod:`denoisebench.prediction`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from denoisebench.errors import ConfigError
from denoisebench.methods._config import check_image, merged_config, sigma_01
from denoisebench.methods.base import METHODS, DenoiseContext, Method

DEFAULT_WEIGHTS_ROOT = "data/raw/weights"


@METHODS.register("pretrained")
class PretrainedMethod(Method):
    """A released DnCNN / FFDNet model converted into the benchmark's network (no training)."""

    name = "pretrained"
    paper = "baseline"
    kind = "pretrained"
    needs_training = False
    uses_sigma = True  # FFDNet models; DnCNN models ignore the sigma
    DEFAULTS: dict[str, Any] = {"model": None, "weights_root": DEFAULT_WEIGHTS_ROOT, "fetch": False,
                                "channels": None}

    def __init__(self, config: dict[str, Any] | None = None) -> None:
        super().__init__(config)
        from denoisebench.pretrained import PRETRAINED

        params = merged_config(self.name, self.DEFAULTS, self.config)
        if params["model"] is None:
            if config:
                raise ConfigError("method 'pretrained': config key 'model' is required (one of "
                                  f"{', '.join(PRETRAINED.names())}; `denoisebench pretrained list`)")
            params["model"] = "dncnn_color_blind"  # `denoisebench methods` lists the default configuration
        self.spec = PRETRAINED.get(str(params["model"]))
        if params["channels"] not in (None, self.spec.channels):
            raise ConfigError(f"method 'pretrained': channels={params['channels']!r} but model {self.spec.name} "
                              f"takes {self.spec.channels}-channel images; drop the key")
        self.params = params
        self.config["channels"] = self.spec.channels
        self._model: Any = None

    def parameter_count(self) -> int:
        from denoisebench.models import count_parameters
        from denoisebench.pretrained.convert import build_network

        return count_parameters(build_network(self.spec))

    def weights_file(self) -> Path:
        """The local file of the configured model, fetched first when ``fetch`` is set."""
        from denoisebench.pretrained import fetch_weights, weights_path

        root = Path(self.params["weights_root"])
        if self.params["fetch"]:
            return fetch_weights(self.spec, root)
        path = weights_path(self.spec, root)
        if not path.is_file():
            raise ConfigError(f"pretrained {self.spec.name}: {path} not found; run the download stage (dvc repro "
                              f"download) or `denoisebench pretrained fetch {self.spec.name} --root {root}`")
        return path

    def network(self) -> Any:
        """The converted network (loaded once)."""
        if self._model is None:
            from denoisebench.pretrained import load_pretrained

            self._model = load_pretrained(self.spec, self.weights_file())
        return self._model

    def denoise(self, noisy: np.ndarray, context: DenoiseContext) -> np.ndarray:
        import torch

        image = check_image(self.name, noisy)
        if image.shape[2] != self.spec.channels:
            raise ConfigError(f"pretrained {self.spec.name} takes {self.spec.channels}-channel images, got "
                              f"{image.shape[2]}")
        device = "cuda" if context.device == "auto" and torch.cuda.is_available() else (
            "cpu" if context.device == "auto" else context.device)
        net = self.network().to(device)
        x = torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1))[None]).to(device)
        with torch.inference_mode():
            out = net(x, sigma_01(context, image)) if self.spec.arch == "ffdnet" else net(x)
        return out[0].float().cpu().numpy().transpose(1, 2, 0).copy()

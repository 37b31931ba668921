"""Converting a released MatConvNet model into the benchmark's own DnCNN / FFDNet network.

The released models store BatchNorm folded into the convolutions: every layer is ``conv`` (with a bias) and
``relu``, so they convert into :class:`~denoisebench.models.dncnn.DnCNN` / ``FFDNet`` built with
``batch_norm=False``. DnCNN's last conv predicts the residual (the MATLAB demo returns ``input - residual``), as
the benchmark's DnCNN does. FFDNet's MatConvNet layers are ``SubP`` (scale 0.5), ``concat`` (noise-level map last),
the convs and ``SubP`` (scale 2); MATLAB's sub-pixel layer orders the 2x2 phases column-major, torch's
``pixel_unshuffle`` row-major, so phases 1 and 2 of each colour are swapped on the first conv's inputs and the
last conv's outputs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from denoisebench.errors import ConfigError
from denoisebench.pretrained.catalog import PretrainedSpec
from denoisebench.pretrained.matconvnet import MatLayer, read_simplenn

#: MATLAB (column-major) 2x2 phase order -> torch pixel_unshuffle (row-major) order, per colour channel.
PHASE_ORDER = (0, 2, 1, 3)


def _phase_index(channels: int) -> list[int]:
    return [4 * c + p for c in range(channels) for p in PHASE_ORDER]


def build_network(spec: PretrainedSpec) -> Any:
    """A benchmark network of ``spec``'s architecture, BN folded (biased convolutions only)."""
    if spec.arch == "dncnn":
        from denoisebench.models.dncnn import DnCNN

        return DnCNN(channels=spec.channels, depth=spec.depth, features=spec.features, batch_norm=False)
    if spec.arch == "ffdnet":
        from denoisebench.models.ffdnet import FFDNet

        return FFDNet(channels=spec.channels, depth=spec.depth, features=spec.features, batch_norm=False)
    raise ConfigError(f"pretrained model {spec.name}: unknown architecture {spec.arch!r} (dncnn, ffdnet)")


def _ffdnet_phases(convs: list[MatLayer], channels: int) -> list[tuple[np.ndarray, np.ndarray]]:
    index = _phase_index(channels)
    pairs = [(layer.weight, layer.bias) for layer in convs]
    first_w, first_b = pairs[0]
    pairs[0] = (first_w[:, index + [4 * channels]], first_b)  # the noise-level map stays the last input
    last_w, last_b = pairs[-1]
    pairs[-1] = (last_w[index], last_b[index])
    return pairs


def load_pretrained(spec: PretrainedSpec, path: str | Path) -> Any:
    """The converted network (eval mode, CPU) of the released file at ``path``.

    Raises:
        ConfigError: the file does not hold a network of ``spec``'s architecture (names the mismatch).
    """
    import torch

    layers = read_simplenn(path)
    convs = [layer for layer in layers if layer.type == "conv"]
    network = build_network(spec)
    targets = [m for m in network.modules() if isinstance(m, torch.nn.Conv2d)]
    if len(convs) != len(targets):
        raise ConfigError(f"{path}: {len(convs)} conv layers, but {spec.name} ({spec.arch}, depth {spec.depth}) "
                          f"has {len(targets)}; is this the file of another model?")
    pairs = (_ffdnet_phases(convs, spec.channels) if spec.arch == "ffdnet"
             else [(layer.weight, layer.bias) for layer in convs])
    with torch.no_grad():
        for i, (module, (weight, bias)) in enumerate(zip(targets, pairs)):
            if tuple(module.weight.shape) != weight.shape or module.bias is None or bias.shape != (weight.shape[0],):
                raise ConfigError(f"{path}: conv {i} has weights {weight.shape} / bias {bias.shape}, {spec.name} "
                                  f"expects {tuple(module.weight.shape)}")
            module.weight.copy_(torch.from_numpy(weight))
            module.bias.copy_(torch.from_numpy(bias))
    return network.eval()

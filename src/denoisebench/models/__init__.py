"""Network architectures, one per file, registered by name in :data:`MODELS`.

``MODELS.get("dncnn")(**kwargs)`` builds a model; the registry is filled by importing the model modules below
(explicit imports, no directory scanning).
"""

from __future__ import annotations

from typing import Any, Callable

from torch import nn

from denoisebench.registry import Registry

MODELS: Registry[Callable[..., nn.Module]] = Registry("model")


def build_model(name: str, **kwargs: Any) -> nn.Module:
    """Instantiate the registered model ``name`` with keyword arguments."""
    return MODELS.get(name)(**kwargs)


def count_parameters(model: nn.Module) -> int:
    """Number of learnable parameters (buffers such as BatchNorm running statistics are not counted)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


from denoisebench.models import dncnn as _dncnn  # noqa: E402,F401  (registers "dncnn")
from denoisebench.models import ffdnet as _ffdnet  # noqa: E402,F401  (registers "ffdnet")
from denoisebench.models import multiscale as _multiscale  # noqa: E402,F401  (registers "multiscale", paper 004)
from denoisebench.models import dae as _dae  # noqa: E402,F401  (registers "dae", paper 000)
from denoisebench.models import cbdnet as _cbdnet  # noqa: E402,F401  (registers "cbdnet", paper 000)
from denoisebench.models import blind2grad as _blind2grad  # noqa: E402,F401  (registers "blind2grad", paper 003)

__all__ = ["MODELS", "build_model", "count_parameters"]

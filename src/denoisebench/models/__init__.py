"""Network architectures, one per file, registered by name in :data:`MODELS`.

``MODELS.get("dncnn")(**kwargs)`` builds a model. The core networks (baselines shared by several papers) are
imported below; paper networks live in their paper's package and register when ``MODELS`` is first looked up.
"""

from __future__ import annotations

from typing import Any, Callable

from torch import nn

from denoisebench.registry import Registry


def _load_all_models() -> None:
    """Loader of :data:`MODELS`: the discovered paper packages register their networks."""
    from denoisebench.papers import load_paper_networks

    load_paper_networks()


MODELS: Registry[Callable[..., nn.Module]] = Registry("model", loader=_load_all_models)


def build_model(name: str, **kwargs: Any) -> nn.Module:
    """Instantiate the registered model ``name`` with keyword arguments."""
    return MODELS.get(name)(**kwargs)


def count_parameters(model: nn.Module) -> int:
    """Number of learnable parameters (buffers such as BatchNorm running statistics are not counted)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


from denoisebench.models import dncnn as _dncnn  # noqa: E402,F401  (registers "dncnn")
from denoisebench.models import ffdnet as _ffdnet  # noqa: E402,F401  (registers "ffdnet")

__all__ = ["MODELS", "build_model", "count_parameters"]

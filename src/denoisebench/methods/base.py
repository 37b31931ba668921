"""The one interface every denoising method implements (classical, supervised, zero-shot, ...)."""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from denoisebench.registry import Registry


@dataclass
class DenoiseContext:
    """What a method may know about the image it denoises.

    Attributes:
        sigma: AWGN standard deviation in 0-255 units when known (non-blind methods need it), else None.
        noise: the noise spec's resolved params (``{"name": "awgn", "sigma": 25, ...}``) or None for real noise.
        seed: a per-image seed for stochastic methods (zero-shot training, dropout averaging).
        device: torch device string for learned methods ("cpu", "cuda").
    """

    sigma: float | None = None
    noise: dict[str, Any] | None = None
    seed: int = 0
    device: str = "cpu"
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.sigma is not None:  # nan, negative or huge levels give flat or black images, never an error
            from denoisebench.validation import check_sigma

            self.sigma = check_sigma(self.sigma, "sigma")


class Method(abc.ABC):
    """A denoising method.

    Subclasses set the class attributes and implement :meth:`denoise`. Methods that learn from a training
    set also implement :meth:`train` and :meth:`load`. Images are float32 (H, W, C) arrays, C in {1, 3},
    nominal range [0, 1]; noisy inputs may leave that range and outputs need not be clipped (scoring clips).

    Args:
        config: the method's parameters (its ``params.yaml`` entry without the ``method`` key).
    """

    name: ClassVar[str]
    paper: ClassVar[str] = "baseline"  # paper key of references/ ("semantic_denoise", ...) or "baseline"
    kind: ClassVar[str]  # "identity", "classical", "supervised", "zero-shot", ...
    needs_training: ClassVar[bool] = False
    uses_sigma: ClassVar[bool] = False  # non-blind: needs the noise level (estimated on real-noise cells)
    choices: ClassVar[tuple[str, ...]] = ()  # deviations from the paper / choices the tables must mark

    def __init__(self, config: dict[str, Any] | None = None) -> None:
        self.config: dict[str, Any] = dict(config or {})

    @abc.abstractmethod
    def denoise(self, noisy: np.ndarray, context: DenoiseContext) -> np.ndarray:
        """Return the restored image, same shape as ``noisy``."""

    def train(self, train_images: list[np.ndarray], out_dir: Path, **kwargs: Any) -> Path:
        """Train on clean images (noise synthesized on the fly) and write a checkpoint; return its path."""
        raise NotImplementedError(f"method {self.name!r} is not trainable")

    def load(self, checkpoint: Path) -> None:
        """Load a checkpoint written by :meth:`train`."""
        raise NotImplementedError(f"method {self.name!r} has no checkpoints")

    def probe_noise(self) -> dict[str, Any] | None:
        """The noise params of an image this method restores (a speed check's denoise context): AWGN sigma 25;
        a model trained for other degradations names one of them (None: real noise)."""
        return {"name": "awgn", "sigma": 25}

    def parameter_count(self) -> int | None:
        """Learned parameters of the default configuration, or None for methods without any."""
        return None


def _load_all_methods() -> None:
    """Loader of :data:`METHODS`: the core method modules, then the discovered paper packages' code."""
    from denoisebench.papers import load_paper_methods

    load_paper_methods()


METHODS: Registry[type[Method]] = Registry("method", loader=_load_all_methods)


def build_method(name: str, config: dict[str, Any] | None = None) -> Method:
    """Instantiate the registered method ``name`` with ``config``."""
    return METHODS.get(name)(config)

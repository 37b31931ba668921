"""Denoising methods behind one interface (:class:`Method`), registered by name in :data:`METHODS`.

Importing this package registers the core methods listed below (baselines shared by several papers). Paper
methods live in their paper's package (``denoisebench.papers.pNNN_*``) and register when ``METHODS`` is first
looked up (discovery, see :mod:`denoisebench.papers`).
"""

from denoisebench.methods.base import METHODS, DenoiseContext, Method, build_method
from denoisebench.methods import noisy as _noisy  # noqa: F401,E402  (registration side effects only)
from denoisebench.methods import bm3d as _bm3d  # noqa: F401,E402
from denoisebench.methods import skimage_methods as _skimage_methods  # noqa: F401,E402
from denoisebench.methods import dncnn as _dncnn  # noqa: F401,E402
from denoisebench.methods import ffdnet as _ffdnet  # noqa: F401,E402
from denoisebench.methods import pretrained as _pretrained  # noqa: F401,E402  (released DnCNN/FFDNet models)

__all__ = ["METHODS", "DenoiseContext", "Method", "build_method"]

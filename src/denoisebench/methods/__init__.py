"""Denoising methods behind one interface (:class:`Method`), registered by name in :data:`METHODS`.

Importing this package registers every method module listed below (explicit imports, no directory scan).
"""

from denoisebench.methods.base import METHODS, DenoiseContext, Method, build_method
from denoisebench.methods import noisy as _noisy  # noqa: F401,E402  (registration side effects only)
from denoisebench.methods import bm3d as _bm3d  # noqa: F401,E402
from denoisebench.methods import skimage_methods as _skimage_methods  # noqa: F401,E402
from denoisebench.methods import dncnn as _dncnn  # noqa: F401,E402
from denoisebench.methods import ffdnet as _ffdnet  # noqa: F401,E402
from denoisebench.methods import pretrained as _pretrained  # noqa: F401,E402  (released DnCNN/FFDNet models)
from denoisebench.methods import semantic_denoise as _semantic_denoise  # noqa: F401,E402  (paper 004)
from denoisebench.methods import semantic_joint as _semantic_joint  # noqa: F401,E402  (paper 004)
from denoisebench.methods import mtl_slw as _mtl_slw  # noqa: F401,E402  (paper 000)
from denoisebench.methods import blind2grad as _blind2grad  # noqa: F401,E402  (paper 003)
from denoisebench.methods import zsn2n as _zsn2n  # noqa: F401,E402  (zero-shot baseline of paper 003)
from denoisebench.methods import self2self as _self2self  # noqa: F401,E402  (zero-shot baseline of paper 003)

__all__ = ["METHODS", "DenoiseContext", "Method", "build_method"]

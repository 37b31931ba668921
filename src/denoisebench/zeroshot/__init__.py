"""Building blocks of the zero-shot (per-image) denoisers: masks, losses, T-standout, averaging, shared helpers.

- :mod:`.masks`: blind-spot mask samplers (``MASKS``: bernoulli, dual, uniform).
- :mod:`.losses`: Blind2Grad's gradient-regularised loss (eq. 3.9), Self2Self's masked MSE.
- :mod:`.tstandout`: T-standout (eq. 3.11), the threshold-based replacement of dropout.
- :mod:`.averaging`: the mean of stochastic forward passes.
- :mod:`.common`: tensors, padding, seeding, partial convolution, iteration snapshots (Fig. 7).
"""

from denoisebench.zeroshot.averaging import average_passes
from denoisebench.zeroshot.losses import blind2grad_loss, gradient_deviation, masked_mse
from denoisebench.zeroshot.masks import MASKS, MaskSample, MaskSampler, build_mask
from denoisebench.zeroshot.tstandout import TStandout, guide_gradient

__all__ = ["MASKS", "MaskSample", "MaskSampler", "TStandout", "average_passes", "blind2grad_loss", "build_mask",
           "gradient_deviation", "guide_gradient", "masked_mse"]

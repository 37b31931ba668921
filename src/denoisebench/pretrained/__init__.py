"""The authors' released DnCNN / FFDNet models: declarations, mirror-first fetching, MatConvNet conversion."""

from denoisebench.pretrained.catalog import PRETRAINED, PretrainedSpec
from denoisebench.pretrained.convert import load_pretrained
from denoisebench.pretrained.fetch import WEIGHTS_SUBDIR, fetch_weights, weights_mirror, weights_path

__all__ = ["PRETRAINED", "PretrainedSpec", "WEIGHTS_SUBDIR", "fetch_weights", "load_pretrained", "weights_mirror",
           "weights_path"]

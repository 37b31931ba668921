"""denoisebench: a reproducibility benchmark for image-denoising papers."""

__version__ = "0.1.0"

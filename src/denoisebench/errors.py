"""Exceptions raised by denoisebench. Every message names the offending file, value or parameter and the fix."""

from __future__ import annotations


class DenoiseBenchError(Exception):
    """Base class of every error the benchmark raises on bad input."""


class UnknownNameError(DenoiseBenchError, KeyError):
    """A registry lookup with a name that is not registered."""

    def __str__(self) -> str:  # KeyError quotes its message; keep it readable.
        return str(self.args[0]) if self.args else ""


class ConfigError(DenoiseBenchError, ValueError):
    """A parameter (params.yaml, CLI flag, noise spec) has an invalid value."""


class DatasetError(DenoiseBenchError):
    """A dataset could not be fetched, found or verified."""


class ChecksumMismatchError(DatasetError):
    """A file's sha256 differs from the declared one."""


class ImageReadError(DenoiseBenchError, OSError):
    """An image file is missing, unreadable or corrupt."""


class MissingPairError(DenoiseBenchError):
    """A reference image has no restored counterpart (or the reverse)."""


class ImageSizeError(DenoiseBenchError, ValueError):
    """Images of incompatible sizes, or an image too small for a method or a crop."""


class MissingInputError(DenoiseBenchError, FileNotFoundError):
    """A file a stage or command needs (a manifest, a checkpoint, a params file) does not exist."""


def format_error(exc: BaseException) -> str:
    """The one line printed for a known error: ``error: <message>``."""
    return f"error: {exc}"

"""The minidl error family.

Every error minidl raises on purpose is a ``MinidlError``, and also subclasses the builtin
exception a user would already catch (``ValueError``, ``TypeError``, ``LookupError``...), so
``except ValueError`` keeps working around minidl calls.
"""

from __future__ import annotations

__all__ = [
    "MinidlError",
    "ShapeError",
    "DataError",
    "ConfigError",
    "DuplicateNameError",
    "ComponentTypeError",
    "UnknownComponentError",
    "NotCompiledError",
    "PluginError",
    "FormatError",
    "DivergenceError",
    "ProtectedFileError",
]


class MinidlError(Exception):
    """Base class of every error minidl raises deliberately."""


class ShapeError(MinidlError, ValueError):
    """An array has the wrong number of dimensions or the wrong size along one of them."""


class DataError(MinidlError, ValueError):
    """Input data is unusable: empty, non-numeric, NaN or infinite, mismatched lengths."""


class ConfigError(MinidlError, ValueError):
    """A configuration value or a hyper-parameter is out of range or malformed."""


class DuplicateNameError(ConfigError):
    """A component name is registered twice (pass ``replace=True`` to replace it on purpose)."""


class ComponentTypeError(MinidlError, TypeError):
    """An object of the wrong kind was given where a component (layer, loss...) was expected."""


class UnknownComponentError(MinidlError, LookupError):
    """A component name is not in its registry (nor provided by any installed plugin)."""


class NotCompiledError(MinidlError, RuntimeError):
    """A model was trained or evaluated before ``compile`` gave it a loss and an optimizer."""


class PluginError(MinidlError, ImportError):
    """A plugin's entry point could not be loaded; the original exception is chained."""


class FormatError(MinidlError, ValueError):
    """A model or checkpoint file is truncated, corrupt, hostile, or of an unsupported version."""


class DivergenceError(MinidlError, ArithmeticError):
    """Training produced a NaN or infinite value.

    Either the loss or a gradient was not finite, and the update was not applied; or every
    gradient was finite but the update overflowed a weight, and that update stays applied (the
    message says which). ``epoch``, ``batch`` (0-based, None outside ``fit``) and ``layer`` (the
    first layer whose gradient, or weight, is not finite; None when only the loss is) say where.

    Args:
        message: what went wrong.
        epoch: the epoch (0-based) it happened in; None outside ``fit``.
        batch: the batch (0-based) within that epoch; None outside ``fit``.
        layer: the first layer whose gradient or weight is not finite; None when only the loss is.
    """

    def __init__(
        self, message: str, *, epoch: int | None = None, batch: int | None = None, layer: str | None = None
    ) -> None:
        super().__init__(message)
        self.epoch, self.batch, self.layer = epoch, batch, layer


class ProtectedFileError(MinidlError, PermissionError):
    """A save would replace what it must not: something that is not a regular file (a device, a
    FIFO, a socket, also through a symlink), or a file whose permissions forbid writing it, as
    ``open(path, "wb")`` would refuse. Nothing was written."""

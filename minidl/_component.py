"""What every component base class shares: a configuration and the repr made from it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__all__ = ["Described", "ValueEquality"]


class Described:
    """A component described by its constructor arguments: ``get_config()`` and a repr."""

    def get_config(self) -> dict[str, Any]:
        """Constructor arguments as plain JSON values."""
        return {}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


class ValueEquality:
    """Stateless components (losses, metrics, initializers, activations) are equal when they
    are of the same class with the same configuration."""

    if TYPE_CHECKING:  # given by the component's base class (Described or Layer)

        def get_config(self) -> dict[str, Any]: ...

    def __eq__(self, other: object) -> bool:
        return (
            type(self) is type(other)
            and isinstance(other, ValueEquality)
            and self.get_config() == other.get_config()
        )

    def __hash__(self) -> int:
        return hash(type(self))

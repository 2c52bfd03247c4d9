"""One generic registry for every kind of component, with lazy entry-point discovery.

Each kind (layers, activations, losses, optimizers, initializers...) has one :class:`Registry`
instance. Built-ins register themselves with :meth:`Registry.register`; installed packages add
components through the entry-point group ``minidl.<plural>`` (``minidl.losses``...). Discovery reads the entry-point
metadata once per process, only when a name is not found among the built-ins (or when the names
are listed), and a plugin's module is imported only when its name is first asked for.
"""

from __future__ import annotations

import difflib
import importlib.metadata as metadata
import inspect
import os
import re
import warnings
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from .errors import ComponentTypeError, ConfigError, DuplicateNameError, PluginError, UnknownComponentError

__all__ = ["Registry", "ComponentInfo", "PluginWarning", "plugins_disabled", "iter_registries", "check_arguments"]

T = TypeVar("T")

#: Setting this environment variable to a true value turns entry-point discovery off.
DISABLE_ENV = "MINIDL_DISABLE_PLUGINS"

_NAME_RE = re.compile(r"^[a-z][a-z0-9_]*$")


class PluginWarning(UserWarning):
    """A plugin was ignored (it reused a built-in name)."""


def plugins_disabled() -> bool:
    """True when ``MINIDL_DISABLE_PLUGINS`` is set to a true value (``1``, ``true``, ``yes``)."""
    return os.environ.get(DISABLE_ENV, "").strip().lower() in {"1", "true", "yes", "on"}


def _normalize_dist(name: str) -> str:
    # PEP 503 normalisation, so "minidl_extra.activations" and "Minidl-Extra-Activations" match.
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass(frozen=True)
class ComponentInfo:
    """What a registry knows of one name: where it comes from and whether it is usable.

    ``status`` is one of ``"ok"``, ``"not loaded"`` (a plugin not imported yet), ``"failed"``,
    ``"shadowed"`` (a plugin reusing a built-in name, ignored) or ``"conflicting"`` (offered by
    several distributions; use the qualified name ``distribution:name``).
    """

    kind: str
    name: str
    source: str
    version: str
    status: str
    detail: str = ""
    value: str = ""


@dataclass
class _Plugin:
    """One entry point of a registry's group, loaded on first use."""

    entry_point: metadata.EntryPoint
    dist_name: str
    dist_version: str
    cls: type | None = None
    error: BaseException | None = None

    @property
    def qualified(self) -> str:
        return f"{self.dist_name}:{self.entry_point.name}"


class Registry(Generic[T]):
    """Maps names to component classes of one kind.

    Args:
        kind: singular name of the kind, used in messages (``"activation"``).
        base: the abstract base class every registered component must subclass.
        plural: plural of ``kind`` (``"losses"``); ``kind + "s"`` by default.
        group: entry-point group; ``"minidl.<plural>"`` by default.

    Example:
        >>> from minidl import activations
        >>> type(activations.get("relu")).__name__
        'ReLU'
    """

    def __init__(self, kind: str, base: type[T], *, plural: str | None = None, group: str | None = None) -> None:
        self.kind = kind
        self.plural = plural or f"{kind}s"
        self.base = base
        self.group = group if group is not None else f"minidl.{self.plural}"
        self._classes: dict[str, type[T]] = {}
        self._names: dict[type, str] = {}
        self._plugins: dict[str, list[_Plugin]] | None = None

    # ------------------------------------------------------------------ registration
    def register(self, name: str, *, replace: bool = False) -> Callable[[type[T]], type[T]]:
        """Class decorator that registers a component class under ``name``.

        The class is checked on the spot: it must subclass the registry's base class and be
        concrete. A name already taken raises :class:`DuplicateNameError` unless ``replace=True``.
        """
        if not isinstance(name, str) or not _NAME_RE.match(name):
            raise ConfigError(
                f"Invalid {self.kind} name {name!r}: use lowercase letters, digits and "
                "underscores, starting with a letter (e.g. 'leaky_relu')."
            )

        def decorator(cls: type[T]) -> type[T]:
            self._check_class(cls, f"{self.kind} {name!r}")
            if name in self._classes and not replace:
                raise DuplicateNameError(
                    f"The {self.kind} name {name!r} is already registered to "
                    f"{_qualname(self._classes[name])}; pass replace=True to replace it."
                )
            old = self._classes.get(name)
            if old is not None:
                self._names.pop(old, None)
            self._classes[name] = cls
            self._names.setdefault(cls, name)
            return cls

        return decorator

    def unregister(self, name: str) -> None:
        """Removes an in-process registration (plugins cannot be unregistered this way)."""
        cls = self._classes.pop(name, None)
        if cls is None:
            raise UnknownComponentError(f"No {self.kind} named {name!r} is registered in-process.")
        if self._names.get(cls) == name:
            del self._names[cls]

    def _check_class(self, obj: Any, what: str) -> None:
        if not (inspect.isclass(obj) and issubclass(obj, self.base)):
            got = _qualname(obj) if inspect.isclass(obj) else f"{type(obj).__name__} {obj!r}"
            raise ComponentTypeError(
                f"{what} must be a subclass of minidl.{self.base.__name__}; received {got}."
            )
        if inspect.isabstract(obj):
            missing = ", ".join(sorted(getattr(obj, "__abstractmethods__", ())))
            raise ComponentTypeError(
                f"{what} ({_qualname(obj)}) is abstract: it does not implement {missing}."
            )

    # ------------------------------------------------------------------ discovery
    def _discovered(self) -> dict[str, list[_Plugin]]:
        if self._plugins is None:
            self._plugins = {} if plugins_disabled() else self._read_entry_points()
        return self._plugins

    def _read_entry_points(self) -> dict[str, list[_Plugin]]:
        found: dict[str, list[_Plugin]] = {}
        for ep in metadata.entry_points(group=self.group):
            dist = getattr(ep, "dist", None)
            dist_name = dist.metadata["Name"] if dist is not None else "<unknown distribution>"
            version = dist.version if dist is not None else "?"
            plugin = _Plugin(ep, dist_name, version)
            if ep.name in self._classes:
                warnings.warn(
                    f"Ignoring {self.kind} {ep.name!r} from {dist_name} {version}: the name is "
                    f"a built-in {self.kind}, which always wins.",
                    PluginWarning,
                    stacklevel=3,
                )
            found.setdefault(ep.name, []).append(plugin)
        return found

    def refresh(self) -> None:
        """Forgets discovered plugins, so the next lookup reads the entry points again."""
        self._plugins = None
        self._names = {cls: n for n, cls in self._classes.items()}

    def _plugin_for(self, name: str) -> _Plugin | None:
        """The one plugin a bare or qualified (``dist:name``) name designates, or None."""
        dist, sep, bare = name.rpartition(":")
        candidates = self._discovered().get(bare if sep else name, [])
        if sep:
            wanted = _normalize_dist(dist)
            candidates = [p for p in candidates if _normalize_dist(p.dist_name) == wanted]
        if len(candidates) > 1:
            candidates = sorted(candidates, key=lambda p: _normalize_dist(p.dist_name))
            options = ", ".join(repr(p.qualified) for p in candidates)
            dists = " and ".join(f"{p.dist_name} {p.dist_version}" for p in candidates)
            raise UnknownComponentError(
                f"The {self.kind} {name!r} is offered by several distributions ({dists}); "
                f"name one of them: {options}."
            )
        return candidates[0] if candidates else None

    def _load(self, plugin: _Plugin, name: str) -> type[T]:
        if plugin.cls is not None:
            return plugin.cls
        ep = plugin.entry_point
        where = (
            f"entry point {ep.name!r} = {ep.value!r} (group {self.group}) of "
            f"{plugin.dist_name} {plugin.dist_version}"
        )
        if plugin.error is None:
            try:
                obj = ep.load()
            except BaseException as exc:  # noqa: BLE001 - a broken plugin must not break minidl
                if isinstance(exc, (KeyboardInterrupt, SystemExit)):
                    raise
                plugin.error = exc
            else:
                self._check_class(obj, f"The {where}")
                plugin.cls = obj
                self._names.setdefault(obj, name)
                return obj
        raise PluginError(
            f"Could not load the {self.kind} {name!r}: {where} failed with "
            f"{type(plugin.error).__name__}: {plugin.error}"
        ) from plugin.error

    # ------------------------------------------------------------------ lookup
    def get_class(self, name: str) -> type[T]:
        """The class registered under ``name`` (a built-in, or a plugin loaded on demand)."""
        if not isinstance(name, str):
            raise ComponentTypeError(f"A {self.kind} name must be a string; received {name!r}.")
        cls = self._classes.get(name)
        if cls is not None:
            return cls
        plugin = None if name in self._classes else self._plugin_for(name)
        if plugin is None:
            raise UnknownComponentError(self._unknown_message(name))
        return self._load(plugin, name)

    def _unknown_message(self, name: str) -> str:
        available = self.names()
        message = f"Unknown {self.kind} {name!r}."
        close = difflib.get_close_matches(name.lower(), available, n=1, cutoff=0.5)
        if close:
            message += f" Did you mean {close[0]!r}?"
        return message + f" Available: {', '.join(available) or '(none)'}"

    def names(self) -> list[str]:
        """Every usable name, sorted: built-ins, in-process registrations and plugins.

        Listing imports no plugin. A conflicting plugin name is listed in its qualified forms.
        """
        names = set(self._classes)
        for name, plugins in self._discovered().items():
            if name in self._classes:
                continue
            if len(plugins) == 1:
                names.add(name)
            else:
                names.update(p.qualified for p in plugins)
        return sorted(names)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name in self.names()

    def get(self, identifier: Any, **kwargs: Any) -> T:
        """Resolves ``identifier`` to a component instance.

        Accepts a registered name, a component class, an instance (returned as it is), or a
        configuration dict ``{"type": name, **arguments}``. ``kwargs`` are constructor arguments.
        """
        if isinstance(identifier, self.base):
            if kwargs:
                raise ConfigError(
                    f"Arguments {sorted(kwargs)} cannot be applied to an existing {self.kind} "
                    f"instance {identifier!r}; pass a name or a class instead."
                )
            return identifier
        if isinstance(identifier, Mapping):
            config = dict(identifier)
            if "type" not in config:
                raise ConfigError(
                    f"A {self.kind} configuration needs a 'type' key naming the {self.kind}; "
                    f"received keys {sorted(config)}."
                )
            name = config.pop("type")
            return self.create(self.get_class(name), {**config, **kwargs})
        if isinstance(identifier, str):
            return self.create(self.get_class(identifier), kwargs)
        if inspect.isclass(identifier):
            self._check_class(identifier, f"The {self.kind} class")
            return self.create(identifier, kwargs)
        raise ComponentTypeError(
            f"Cannot make a {self.kind} from {type(identifier).__name__} {identifier!r}; pass a "
            f"name (one of {', '.join(self.names())}), a {self.base.__name__} subclass or "
            f"instance, or a dict with a 'type' key."
        )

    def create(self, cls: type[T], arguments: Mapping[str, Any]) -> T:
        """Instantiates ``cls`` after checking the argument names against its signature."""
        check_arguments(cls, arguments, f"{self.kind} {self.name_of(cls, default=cls.__name__)!r}")
        return cls(**arguments)

    # ------------------------------------------------------------------ serialization
    def name_of(self, cls: type, default: str | None = None) -> str:
        """The registered name of ``cls`` (the inverse of :meth:`get_class`)."""
        name = self._names.get(cls) or self._plugin_name_of(cls)
        if name is None:
            if default is not None:
                return default
            raise ConfigError(
                f"{_qualname(cls)} is not a registered {self.kind}, so it cannot be saved or "
                f"configured by name; register it with @minidl.{self.plural}.register('name')."
            )
        return name

    def _plugin_name_of(self, cls: type) -> str | None:
        # A plugin class imported directly (not through get) is still known by its entry point.
        target = f"{cls.__module__}:{cls.__qualname__}"
        for name, plugins in self._discovered().items():
            usable = name not in self._classes
            for plugin in plugins:
                if plugin.entry_point.value.replace(" ", "") == target and usable:
                    key = name if len(plugins) == 1 else plugin.qualified
                    if self._load(plugin, key) is cls:
                        self._names[cls] = key
                        return key
        return None

    def serialize(self, component: T) -> str | dict[str, Any]:
        """The plain-JSON form of ``component``: its name, or ``{"type": name, **config}``."""
        name = self.name_of(type(component))
        config = component.get_config()  # type: ignore[attr-defined]
        return {"type": name, **config} if config else name

    # ------------------------------------------------------------------ introspection
    def describe(self, *, load: bool = False) -> list[ComponentInfo]:
        """One :class:`ComponentInfo` per name, built-ins first. ``load=True`` imports plugins."""
        infos = [
            ComponentInfo(self.kind, name, _source_of(cls), _version_of(cls), "ok")
            for name, cls in sorted(self._classes.items())
        ]
        for name, plugins in sorted(self._discovered().items()):
            for plugin in plugins:
                infos.append(self._describe_plugin(name, plugin, len(plugins), load))
        return infos

    def _describe_plugin(self, name: str, plugin: _Plugin, count: int, load: bool) -> ComponentInfo:
        status, detail = "not loaded", ""
        if name in self._classes:
            status, detail = "shadowed", f"the built-in {self.kind} {name!r} wins"
        elif count > 1:
            status, detail = "conflicting", f"use {plugin.qualified!r}"
        if status == "not loaded" and (load or plugin.cls is not None or plugin.error is not None):
            try:
                self._load(plugin, name)
                status = "ok"
            except (PluginError, ComponentTypeError) as exc:
                status, detail = "failed", str(exc.__cause__ or exc)
        return ComponentInfo(
            self.kind, name, plugin.dist_name, plugin.dist_version, status, detail,
            plugin.entry_point.value,
        )

    def __repr__(self) -> str:
        return f"Registry(kind={self.kind!r}, group={self.group!r}, names={self.names()})"


def check_arguments(cls: type, arguments: Mapping[str, Any], what: str) -> None:
    """Raises ConfigError when ``arguments`` holds a key ``cls``'s constructor does not take."""
    try:
        params = inspect.signature(cls).parameters
    except (TypeError, ValueError):  # builtins without a signature: let the call decide
        return
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return
    accepted = [n for n, p in params.items() if p.kind is not inspect.Parameter.VAR_POSITIONAL]
    unknown = sorted(set(arguments) - set(accepted))
    if unknown:
        raise ConfigError(
            f"Unknown argument(s) {', '.join(map(repr, unknown))} for {what}; "
            f"it accepts: {', '.join(accepted) or '(no arguments)'}."
        )


def _qualname(cls: Any) -> str:
    return f"{getattr(cls, '__module__', '?')}.{getattr(cls, '__qualname__', repr(cls))}"


def _source_of(cls: type) -> str:
    module = getattr(cls, "__module__", "")
    return "built-in" if module.split(".")[0] == "minidl" else f"in-process ({module})"


def _version_of(cls: type) -> str:
    from . import __version__

    return __version__ if _source_of(cls) == "built-in" else ""


def iter_registries() -> Iterable[Registry[Any]]:
    """Every registry minidl defines, in a stable order (used by the CLI and the test kit)."""
    from . import activations, initializers, layers, losses, metrics, optimizers

    return (
        layers.registry,
        activations.registry,
        losses.registry,
        optimizers.registry,
        initializers.registry,
        metrics.registry,
    )

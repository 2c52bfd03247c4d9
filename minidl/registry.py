"""One generic registry for every kind of component, with lazy entry-point discovery.

Each kind (layers, activations, losses, optimizers, initializers...) has one ``Registry``
instance. Built-ins register themselves with ``Registry.register``; installed packages add
components through the entry-point group ``minidl.<plural>`` (``minidl.losses``...). Discovery
reads the entry-point metadata of every installed distribution once per process (one scan shared
by all registries), only when a name is not found among the built-ins (or when the names are
listed), and a plugin's module is imported only when its name is first asked for. One broken
distribution (unreadable metadata, a malformed line, a module that fails to import) only breaks
the names it offers.
"""

from __future__ import annotations

import difflib
import importlib.machinery
import importlib.metadata as metadata
import inspect
import os
import re
import warnings
import weakref
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from ._version import __version__
from .errors import ComponentTypeError, ConfigError, DuplicateNameError, PluginError, UnknownComponentError

__all__ = [
    "Registry",
    "ComponentInfo",
    "PluginWarning",
    "plugins_disabled",
    "refresh",
    "iter_registries",
    "check_arguments",
]


class _Configurable(Protocol):
    def get_config(self) -> dict[str, Any]: ...


#: A kind's base class: every component describes itself with get_config (what files and
#: configurations store).
T = TypeVar("T", bound=_Configurable)

#: Setting this environment variable to a true value turns entry-point discovery off.
DISABLE_ENV = "MINIDL_DISABLE_PLUGINS"

_NAME_RE = re.compile(r"^[a-z][a-z0-9_]*$")
# "package.module:Class" (optionally "[extras]", which minidl ignores), as the entry-point spec says.
_VALUE_RE = re.compile(r"^[A-Za-z_][\w.]*\s*:\s*[A-Za-z_][\w.]*\s*(\[[^\]]*\])?$")
# Every Registry ever made, so refresh() can reach them all (weak: test registries may die).
_REGISTRIES: weakref.WeakSet[Registry[Any]] = weakref.WeakSet()


class PluginWarning(UserWarning):
    """A plugin was ignored (it reused a built-in name, or its distribution's metadata is unreadable)."""


def plugins_disabled() -> bool:
    """True when ``MINIDL_DISABLE_PLUGINS`` is set to a true value (``1``, ``true``, ``yes``)."""
    return os.environ.get(DISABLE_ENV, "").strip().lower() in {"1", "true", "yes", "on"}


def _normalize_dist(name: str) -> str:
    # PEP 503 normalisation, so "minidl_extra.activations" and "Minidl-Extra-Activations" match.
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass(frozen=True)
class ComponentInfo:
    """What a registry knows of one name: where it comes from and whether it is usable.

    ``status`` is one of ``"ok"``, ``"available"`` (a plugin not imported yet), ``"failed"``,
    ``"shadowed"`` (a plugin reusing a built-in name, ignored) or ``"conflicting"`` (offered by
    several distributions; use the qualified name ``distribution:name``). ``lookup`` is the name
    that selects this component (qualified when conflicting; empty when shadowed).

    Args:
        kind: the registry's kind (``"layer"``, ``"activation"``, ...).
        name: the component's name.
        source: ``"built-in"``, ``"in-process (module)"`` or the distribution that provides it.
        version: minidl's version for a built-in, the distribution's for a plugin.
        status: ``"ok"``, ``"not loaded"``, ``"failed"``, ``"shadowed"`` or ``"conflicting"``.
        detail: why it failed or is shadowed, or other notes.
        value: the entry point's value (``module:Class``) for a plugin.
        lookup: the name that selects this component.
    """

    kind: str
    name: str
    source: str
    version: str
    status: str
    detail: str = ""
    value: str = ""
    lookup: str = ""


@dataclass
class _Plugin:
    """One entry point of a minidl group, loaded on first use.

    ``problem`` describes a malformed entry point (found without importing anything); such a
    plugin is listed but every request for it raises PluginError.
    """

    name: str
    value: str
    group: str
    dist_name: str
    dist_version: str
    problem: str = ""
    cls: type | None = None
    error: BaseException | None = None

    @property
    def qualified(self) -> str:
        return f"{self.dist_name}:{self.name}"

    def where(self) -> str:
        return f"entry point {self.name!r} = {self.value!r} (group {self.group}) of {self.dist_name} {self.dist_version}"


#: Every minidl entry point of the environment by group, read once (see ``_scan``).
_SCAN: dict[str, list[_Plugin]] | None = None


def _scan() -> dict[str, list[_Plugin]]:
    """Reads the ``minidl.*`` entry points of every distribution once per process (until refresh)."""
    global _SCAN
    if _SCAN is None:
        _SCAN = _read_distributions()
    return _SCAN


def _read_distributions() -> dict[str, list[_Plugin]]:
    found: dict[str, list[_Plugin]] = {}
    seen: set[str] = set()
    for dist in metadata.distributions():
        try:
            name = dist.metadata["Name"] or "<unnamed distribution>"
            version = dist.version or "?"
            text = dist.read_text("entry_points.txt") or ""
        except Exception as exc:  # noqa: BLE001 - one unreadable distribution must not hide the others
            warnings.warn(
                f"Skipping a distribution with unreadable metadata: {exc!r}", PluginWarning, stacklevel=2
            )
            continue
        key = _normalize_dist(name)
        if key in seen:  # the same distribution further down sys.path: the first one wins, as imports do
            continue
        seen.add(key)
        for plugin in _plugins_of(text, name, version):
            found.setdefault(plugin.group, []).append(plugin)
    return found


def _plugins_of(text: str, dist_name: str, dist_version: str) -> list[_Plugin]:
    """One distribution's plugins; a name listed twice in one group is one malformed plugin.

    No name could pick one of the two lines (a qualified name only picks a distribution), so this
    is the distribution's packaging mistake, reported on that name, not a conflict with itself.
    """
    plugins: dict[tuple[str, str], _Plugin] = {}
    lines: dict[tuple[str, str], list[str]] = {}
    for number, group, ep_name, value, problem in _parse_entry_points(text):
        key = (group, ep_name)
        lines.setdefault(key, []).append(f"line {number}: {value!r}")
        if key not in plugins:
            plugins[key] = _Plugin(ep_name, value, group, dist_name, dist_version, problem)
            continue
        plugins[key].problem = (
            f"{ep_name!r} is listed {len(lines[key])} times in [{group}] of entry_points.txt "
            f"({', '.join(lines[key])}); a distribution must offer each name once"
        )
    return list(plugins.values())


def _parse_entry_points(text: str) -> Iterable[tuple[int, str, str, str, str]]:
    """``(line, group, name, value, problem)`` per line of the ``minidl.*`` sections of entry_points.txt.

    Parsed line by line (not with importlib.metadata, which rejects the whole file, and with it
    every distribution's entry points, for one bad line), so a bad line only costs its own name.
    """
    group = ""
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            group = line[1:-1].strip()
            continue
        if not group.startswith("minidl."):
            continue
        name, sep, value = (part.strip() for part in line.partition("="))
        if not sep:
            problem = f"line {number} of entry_points.txt, {line!r}, is not 'name = module:Class'"
        elif not _NAME_RE.match(name):
            problem = f"{name!r} is not a valid name: use lowercase letters, digits and underscores"
        elif not _VALUE_RE.match(value):
            problem = f"{value!r} is not a reference of the form 'package.module:Class'"
        else:
            problem = ""
        yield number, group, name, value, problem


class Registry(Generic[T]):
    """Maps names to component classes of one kind.

    Args:
        kind: singular name of the kind, used in messages (``"activation"``).
        base: the abstract base class every registered component must subclass.
        plural: plural of ``kind`` (``"losses"``); ``kind + "s"`` by default.
        group: entry-point group; ``"minidl.<plural>"`` by default.

    Examples:
        >>> from minidl import activations
        >>> type(activations.get("relu")).__name__
        'ReLU'
    """

    def __init__(
        self, kind: str, base: type[T], *, plural: str | None = None, group: str | None = None
    ) -> None:
        self.kind = kind
        self.plural = plural or f"{kind}s"
        self.base = base
        self.group = group if group is not None else f"minidl.{self.plural}"
        self._classes: dict[str, type[T]] = {}
        self._names: dict[type, str] = {}
        self._plugins: dict[str, list[_Plugin]] | None = None
        # names an in-process class took over with replace=True: their plugins are shadowed on purpose
        self._replaced: set[str] = set()
        _REGISTRIES.add(self)

    # ------------------------------------------------------------------ registration
    def register(self, name: str, *, replace: bool = False) -> Callable[[type[T]], type[T]]:
        """Class decorator that registers a component class under ``name``.

        The class is checked on the spot: it must subclass the registry's base class and be
        concrete. A name already taken raises ``DuplicateNameError`` unless ``replace=True``:
        taken by a built-in, an earlier registration, or an installed plugin's entry point (even
        one not imported yet; the error names its distribution). With ``replace=True`` the
        registered class wins and the plugin is listed as shadowed. A plugin's own module may
        register the very class its entry point names. Built-ins registering at import time
        read no entry points, so ``import minidl`` stays free of metadata scans.

        Args:
            name: the component's name: lowercase letters, digits and underscores.
            replace: replace a component already registered under ``name``.
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
            if _source_of(cls) != "built-in":  # built-ins register at import: no metadata scan then
                if replace:
                    self._replaced.add(name)
                else:
                    self._refuse_plugin_name(name, cls)
            old = self._classes.get(name)
            if old is not None:
                self._names.pop(old, None)
            self._classes[name] = cls
            self._names.setdefault(cls, name)
            return cls

        return decorator

    def _refuse_plugin_name(self, name: str, cls: type) -> None:
        """Raises DuplicateNameError when an installed entry point (other than ``cls`` itself) offers ``name``."""
        target = _class_target(cls)
        others = [p for p in self._discovered().get(name, []) if _value_target(p.value) != target]
        if others:
            offered = " and ".join(
                f"{p.dist_name} {p.dist_version} (entry point {p.value!r})" for p in others
            )
            raise DuplicateNameError(
                f"The {self.kind} name {name!r} is offered by the installed plugin {offered}, "
                f"so registering {_qualname(cls)} under it would shadow the plugin; pass replace=True "
                f"to make {_qualname(cls)} win in this process, or choose another name."
            )

    def unregister(self, name: str) -> None:
        """Removes an in-process registration (plugins cannot be unregistered this way).

        Args:
            name: the name registered in this process.
        """
        cls = self._classes.pop(name, None)
        self._replaced.discard(name)
        if cls is None:
            raise UnknownComponentError(f"No {self.kind} named {name!r} is registered in-process.")
        if self._names.get(cls) == name:
            del self._names[cls]

    def _check_class(self, obj: Any, what: str) -> type[T]:
        """``obj`` itself, once it is known to be a concrete subclass of the base, else ComponentTypeError."""
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
        return obj

    # ------------------------------------------------------------------ discovery
    def _discovered(self) -> dict[str, list[_Plugin]]:
        if self._plugins is None:
            self._plugins = {} if plugins_disabled() else self._read_entry_points()
        return self._plugins

    def _read_entry_points(self) -> dict[str, list[_Plugin]]:
        found: dict[str, list[_Plugin]] = {}
        for plugin in _scan().get(self.group, []):
            if self._overridden(plugin) and plugin.name not in self._replaced:
                owner = _source_of(self._classes[plugin.name])
                # shown at the plugin's class (found without importing it), which its author
                # can rename, rather than at whichever minidl line first looked a name up
                filename, lineno = _location(plugin)
                warnings.warn_explicit(
                    f"Ignoring {self.kind} {plugin.name!r} from {plugin.dist_name} {plugin.dist_version}: "
                    f"the name is taken by a {owner} {self.kind}, which always wins.",
                    PluginWarning,
                    filename,
                    lineno,
                    module=plugin.value.partition(":")[0],
                )
            found.setdefault(plugin.name, []).append(plugin)
        return found

    def _overridden(self, plugin: _Plugin) -> bool:
        """True when another class holds the plugin's name (a plugin registering itself does not count)."""
        cls = self._classes.get(plugin.name)
        return cls is not None and _class_target(cls) != _value_target(plugin.value)

    def refresh(self) -> None:
        """Forgets discovered plugins, so the next lookup reads the entry points again.

        The entry-point scan is shared by all registries; ``minidl.registry.refresh``
        refreshes every registry at once (what a test that installs a distribution wants).
        """
        global _SCAN
        _SCAN = None
        self._plugins = None
        self._names = {}
        for name, cls in self._classes.items():
            self._names.setdefault(cls, name)

    def _candidates(self, name: str) -> list[_Plugin]:
        """The usable plugins a bare or qualified (``dist:name``) name designates; imports nothing."""
        dist, sep, bare = name.rpartition(":")
        if bare in self._classes:
            return []  # reserved: plugins reusing a built-in or registered name are ignored
        candidates = self._discovered().get(bare, [])
        if sep:
            wanted = _normalize_dist(dist)
            candidates = [p for p in candidates if _normalize_dist(p.dist_name) == wanted]
        return sorted(candidates, key=lambda p: _normalize_dist(p.dist_name))

    def _plugin_for(self, name: str) -> _Plugin | None:
        """The one plugin ``name`` designates, or None; several is an error naming them all."""
        candidates = self._candidates(name)
        if len(candidates) > 1:
            options = ", ".join(repr(p.qualified) for p in candidates)
            dists = " and ".join(f"{p.dist_name} {p.dist_version}" for p in candidates)
            raise UnknownComponentError(
                f"The {self.kind} {name!r} is offered by several distributions ({dists}); "
                f"name one of them: {options}."
            )
        if not candidates:
            self._refuse_shadowed(name)
        return candidates[0] if candidates else None

    def _refuse_shadowed(self, name: str) -> None:
        # "evil-dist:relu" must not smuggle in a plugin the rules ignore.
        _dist, sep, bare = name.rpartition(":")
        if sep and bare in self._classes:
            raise UnknownComponentError(
                f"The {self.kind} {name!r} is ignored: {bare!r} is a {_source_of(self._classes[bare])} "
                f"{self.kind}, which always wins. Use {bare!r}."
            )

    def _public_name(self, plugin: _Plugin) -> str:
        """The name a plugin class is saved under: bare, or qualified when several offer it."""
        return plugin.qualified if len(self._discovered().get(plugin.name, [])) > 1 else plugin.name

    def _load(self, plugin: _Plugin) -> type[T]:
        if plugin.cls is not None:
            return plugin.cls
        if plugin.error is None:
            try:
                if plugin.problem:
                    raise ValueError(f"malformed entry point: {plugin.problem}")
                obj = metadata.EntryPoint(name=plugin.name, value=plugin.value, group=plugin.group).load()
            except (Exception, SystemExit) as exc:  # noqa: BLE001 - a broken plugin must not break minidl (nor exit)
                plugin.error = exc
            else:
                cls = self._check_class(obj, f"The {plugin.where()}")
                plugin.cls = cls
                self._names.setdefault(cls, self._public_name(plugin))
                return cls
        raise PluginError(
            f"Could not load the {self.kind} {plugin.name!r}: {plugin.where()} failed with "
            f"{type(plugin.error).__name__}: {plugin.error}"
        ) from plugin.error

    # ------------------------------------------------------------------ lookup
    def get_class(self, name: str) -> type[T]:
        """The class registered under ``name`` (a built-in, or a plugin loaded on demand).

        Args:
            name: a registered name, or a qualified ``distribution:name``.
        """
        if not isinstance(name, str):
            raise ComponentTypeError(f"A {self.kind} name must be a string; received {name!r}.")
        cls = self._classes.get(name)
        if cls is not None:
            return cls
        plugin = self._plugin_for(name)
        if plugin is None:
            raise UnknownComponentError(self._unknown_message(name))
        return self._load(plugin)

    def _unknown_message(self, name: str) -> str:
        available = self.names()
        message = f"Unknown {self.kind} {name!r}."
        # a name that begins what was typed ("acc" for "accuracy") before one merely alike ("auc")
        close = [n for n in available if n.startswith(name.lower())][:1] if len(name) >= 3 else []
        close = close or difflib.get_close_matches(name.lower(), available, n=1, cutoff=0.5)
        if close:
            message += f" Did you mean {close[0]!r}?"
        return message + f" Available: {', '.join(available) or '(none)'}"

    def names(self) -> list[str]:
        """Every usable name, sorted: built-ins, in-process registrations and plugins.

        Listing imports no plugin. A conflicting plugin name is listed in its qualified forms; a
        malformed entry point is left out (``describe`` shows it, as failed).
        """
        names = set(self._classes)
        for name, plugins in self._discovered().items():
            if name not in self._classes:
                names.update(self._public_name(p) for p in plugins if not p.problem)
        return sorted(names)

    def __contains__(self, name: object) -> bool:
        """True when ``name`` designates a component (possibly an ambiguous or broken plugin); imports nothing."""
        return isinstance(name, str) and (name in self._classes or bool(self._candidates(name)))

    def get(self, identifier: Any, **kwargs: Any) -> T:
        """Resolves ``identifier`` to a component instance.

        Accepts a registered name, a component class, an instance (returned as it is), or a
        configuration dict ``{"type": name, **arguments}``. ``kwargs`` are constructor arguments.

        Args:
            identifier: a name, a class, an instance or a ``{"type": name, ...}`` dict.
            **kwargs: constructor arguments for a name or a class.
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
            return self.create(self._check_class(identifier, f"The {self.kind} class"), kwargs)
        raise ComponentTypeError(
            f"Cannot make a {self.kind} from {type(identifier).__name__} {identifier!r}; pass a "
            f"name (one of {', '.join(self.names())}), a {self.base.__name__} subclass or "
            f"instance, or a dict with a 'type' key."
        )

    def create(self, cls: type[T], arguments: Mapping[str, Any]) -> T:
        """Instantiates ``cls`` after checking the argument names against its signature.

        Args:
            cls: the component class.
            arguments: its constructor arguments by name.
        """
        check_arguments(cls, arguments, f"{self.kind} {self.name_of(cls, default=cls.__name__)!r}")
        return cls(**arguments)

    # ------------------------------------------------------------------ serialization
    def name_of(self, cls: type, default: str | None = None) -> str:
        """The registered name of ``cls`` (the inverse of ``get_class``).

        Args:
            cls: a component class.
            default: returned when ``cls`` is not registered (None: raise a ConfigError).
        """
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
        # A plugin class imported directly (not through get) is still known by its entry point;
        # matching the entry point's text imports nothing new.
        target = _class_target(cls)
        for name, plugins in self._discovered().items():
            for plugin in plugins:
                if (
                    _value_target(plugin.value) == target
                    and name not in self._classes
                    and not plugin.problem
                    and self._load(plugin) is cls
                ):
                    return self._public_name(plugin)
        return None

    def serialize(self, component: T) -> str | dict[str, Any]:
        """The plain-JSON form of ``component``: its name, or ``{"type": name, **config}``.

        Args:
            component: a component instance.
        """
        name = self.name_of(type(component))
        config = component.get_config()
        return {"type": name, **config} if config else name

    # ------------------------------------------------------------------ introspection
    def describe(self, *, load: bool = False) -> list[ComponentInfo]:
        """One ``ComponentInfo`` per name, built-ins first. ``load=True`` imports plugins.

        Args:
            load: import every plugin (to report those that fail) instead of listing them unloaded.
        """
        infos = [
            ComponentInfo(self.kind, name, _source_of(cls), _version_of(cls), "ok", lookup=name)
            for name, cls in sorted(self._classes.items())
        ]
        for _name, plugins in sorted(self._discovered().items()):
            for plugin in sorted(plugins, key=lambda p: _normalize_dist(p.dist_name)):
                infos.append(self._describe_plugin(plugin, len(plugins), load))
        return infos

    def _describe_plugin(self, plugin: _Plugin, count: int, load: bool) -> ComponentInfo:
        status, detail, lookup = "available", "", self._public_name(plugin)
        if self._overridden(plugin):
            owner = _source_of(self._classes[plugin.name])
            status, detail, lookup = "shadowed", f"the {owner} {self.kind} {plugin.name!r} wins", ""
        elif load or plugin.cls is not None or plugin.error is not None or plugin.problem:
            try:
                self._load(plugin)
                status = "ok"
            except (PluginError, ComponentTypeError) as exc:
                cause = exc.__cause__
                status, detail = "failed", f"{type(cause).__name__}: {cause}" if cause else str(exc)
        if count > 1 and status in ("ok", "available"):
            status, detail = "conflicting", f"offered by {count} distributions; use {lookup!r}"
        return ComponentInfo(
            self.kind,
            plugin.name,
            plugin.dist_name,
            plugin.dist_version,
            status,
            detail,
            plugin.value,
            lookup,
        )

    def __repr__(self) -> str:
        return f"Registry(kind={self.kind!r}, group={self.group!r}, names={self.names()})"


def check_arguments(cls: Callable[..., Any], arguments: Mapping[str, Any], what: str) -> None:
    """Raises ConfigError when ``arguments`` holds a key ``cls`` (a class or a function) does not take.

    Args:
        cls: the class (or function) the arguments are for.
        arguments: the arguments by name.
        what: what they configure, named in the error.
    """
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


def _location(plugin: _Plugin) -> tuple[str, int]:
    """The file and line where a plugin's object is defined, found without importing anything.

    The module is located with the import system's path finder (which runs no code), and the
    line is the first ``class``/``def``/assignment of the object's name; when the source cannot
    be found, the entry point itself is named.
    """
    module, _, attribute = _value_target(plugin.value).partition(":")
    spec, search = None, None
    for part in module.split("."):
        spec = importlib.machinery.PathFinder.find_spec(part, search)
        search = None if spec is None else spec.submodule_search_locations
        if spec is None:
            break
    origin = getattr(spec, "origin", None)
    if not origin or not os.path.isfile(origin):
        return f"<{plugin.where()}>", 0
    name = re.escape(attribute.split(".")[0])
    pattern = re.compile(rf"^\s*(?:class|def)\s+{name}\b|^{name}\s*=")
    try:
        with open(origin, encoding="utf-8", errors="replace") as source:
            lineno = next((i for i, line in enumerate(source, 1) if pattern.match(line)), 1)
    except OSError:
        lineno = 1
    return origin, lineno


def _class_target(cls: type) -> str:
    """A class as an entry point names it, ``module:Class``."""
    return f"{cls.__module__}:{cls.__qualname__}"


def _value_target(value: str) -> str:
    """An entry point's ``module:Class`` without extras or spaces, comparable to a class's own."""
    return value.split("[")[0].replace(" ", "")


def _qualname(cls: Any) -> str:
    return f"{getattr(cls, '__module__', '?')}.{getattr(cls, '__qualname__', repr(cls))}"


def _source_of(cls: type) -> str:
    module = getattr(cls, "__module__", "")
    return "built-in" if module.split(".")[0] == "minidl" else f"in-process ({module})"


def _version_of(cls: type) -> str:
    return __version__ if _source_of(cls) == "built-in" else ""


def refresh() -> None:
    """Forgets the entry-point scan and every registry's plugins (after installing a package)."""
    for registry in list(_REGISTRIES):
        registry.refresh()


#: The order in which the registries of minidl's own kinds are listed.
_KIND_ORDER = ("layer", "activation", "loss", "optimizer", "initializer", "metric", "schedule")


def iter_registries() -> Iterable[Registry[Any]]:
    """Every registry in the process, minidl's own kinds first in a stable order (used by the
    CLI and the test kit).

    Each component module makes its registry when imported, and ``import minidl`` imports them
    all, so this module needs to import none of them.
    """

    def order(registry: Registry[Any]) -> tuple[int, str]:
        kind = registry.kind
        return (_KIND_ORDER.index(kind) if kind in _KIND_ORDER else len(_KIND_ORDER), kind)

    return tuple(sorted(_REGISTRIES, key=order))

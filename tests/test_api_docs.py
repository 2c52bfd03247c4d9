"""The public API stays documented and typed.

Every public module has its page in the API reference (docs/reference/api/NAME.md, generated from
the docstrings by mkdocstrings, and listed in mkdocs.yml's navigation); every public class,
function and method that a module exports has a Google-style docstring whose ``Args:`` section
names each of its arguments, so nothing can be added undocumented. The docstrings are read by
griffe, the parser the site is rendered with. The public methods of the built-in components also
carry type hints on every argument and the result.
"""

from __future__ import annotations

import inspect
import pkgutil
import re
from functools import cache
from pathlib import Path

import griffe
import pytest

import minidl
from minidl import activations, initializers, layers, losses
from minidl.parameter import Parameter

ROOT = Path(__file__).resolve().parents[1]
API = ROOT / "docs" / "reference" / "api"
MODULES = [
    "minidl",
    *sorted(
        f"minidl.{info.name}"
        for info in pkgutil.iter_modules(minidl.__path__)
        if not info.name.startswith("_")
    ),
]
# a Sphinx role is not Markdown: mkdocstrings would print ":class:" as it is
SPHINX_ROLE = re.compile(r":(class|func|meth|mod|attr|exc|data|obj):`")


@cache
def _package() -> griffe.Module:
    return griffe.load("minidl", search_paths=[str(ROOT)], docstring_parser="google", resolve_aliases=True)


def _documented_arguments(obj: griffe.Object) -> set[str] | None:
    """The names an object's docstring documents (Args:, or Attributes: for a class), None without one."""
    if obj.docstring is None or not obj.docstring.value.strip():
        return None
    kinds = {"parameters", "other_parameters"} | ({"attributes"} if obj.is_class else set())
    return {
        item.name.lstrip("*")
        for section in obj.docstring.parse("google")
        if section.kind.value in kinds
        for item in section.value
    }


def _inherited_doc(cls: griffe.Class, name: str) -> griffe.Object | None:
    """The documented method ``name`` of a base class of ``cls`` that a method without a docstring overrides."""
    for base in cls.mro():
        member = base.members.get(name)
        if member is not None and not member.is_alias and member.docstring is not None:
            return member
    return None


def undocumented_arguments(function: griffe.Function, documented: set[str]) -> list[str]:
    """The arguments of ``function`` (but a method's self or cls) that ``documented`` does not name."""
    names = [p.name for p in function.parameters]
    if names[:1] in (["self"], ["cls"]) and isinstance(function.parent, griffe.Class):
        names = names[1:]
    return [name for name in names if name not in documented]


def docstring_problems(obj: griffe.Object) -> list[str]:
    """What is missing from the docstrings of an exported class or function (and its methods)."""
    problems: list[str] = []
    if obj.docstring is not None and SPHINX_ROLE.search(obj.docstring.value):
        problems.append(f"{obj.path}: a Sphinx role (:class:`...`); write ``name`` instead")
    documented = _documented_arguments(obj)
    if documented is None:
        return [*problems, f"{obj.path}: no docstring"]
    if isinstance(obj, griffe.Function):
        missing = undocumented_arguments(obj, documented)
        return [*problems, *([f"{obj.path}: Args: does not name {missing}"] if missing else [])]
    if not isinstance(obj, griffe.Class):
        return problems
    init = obj.members.get("__init__")
    if isinstance(init, griffe.Function):  # the constructor's arguments, in the class or __init__ docstring
        missing = undocumented_arguments(init, documented | (_documented_arguments(init) or set()))
        if missing:
            problems.append(f"{obj.path}: Args: does not name the constructor's {missing}")
    for name, member in obj.members.items():
        if member.is_alias or (name.startswith("_") and name != "__call__"):
            continue
        if isinstance(member, griffe.Function):
            # an override without a docstring is documented by the method it overrides (as
            # inspect.getdoc and help() show it); its arguments must still be named there
            source = member if member.docstring is not None else _inherited_doc(obj, name) or member
            own = _documented_arguments(source)
            if own is None:
                problems.append(f"{member.path}: no docstring")
                continue
            missing = undocumented_arguments(member, own)
            if missing:
                problems.append(f"{member.path}: Args: does not name {missing}")
            if SPHINX_ROLE.search(source.docstring.value if source.docstring else ""):
                problems.append(f"{member.path}: a Sphinx role (:class:`...`); write ``name`` instead")
        elif "property" in member.labels and member.docstring is None:
            problems.append(f"{member.path}: a property without a docstring")
    return problems


def _exported(module_name: str) -> list[griffe.Object]:
    package = _package()
    module = package if module_name == "minidl" else package[module_name.removeprefix("minidl.")]
    assert module.exports is not None, f"{module_name} has no explicit __all__"
    objects = []
    for name in module.exports:
        member = module[name]
        target = member.final_target if member.is_alias else member
        if target.path.startswith("minidl.") and (target.is_class or target.is_function):
            objects.append(target)
    return objects


def test_the_checker_finds_what_is_missing(tmp_path: Path) -> None:
    # a checker that passes everything would pass the real test too: it must see each kind of gap
    code = (
        "class Base:\n"
        '    """A base.\n\n    Args:\n        size: how big.\n    """\n\n'
        "    def __init__(self, size): ...\n\n"
        '    def run(self, x):\n        """Runs.\n\n        Args:\n            x: the input.\n        """\n\n'
        "class Child(Base):\n"
        '    """A child.\n\n    Args:\n        size: how big.\n    """\n\n'
        "    def __init__(self, size, colour): ...\n\n"
        "    def run(self, x): ...\n\n"
        "    def more(self, y): ...\n\n"
        '    def other(self, z):\n        """Other, see :class:`Base`.\n\n        Args:\n            q: no.\n        """\n\n'
        'def f(a, *args, **kwargs):\n    """F.\n\n    Args:\n        a: first.\n        **kwargs: the rest.\n    """\n'
    )
    (tmp_path / "sample.py").write_text(code)
    module = griffe.load(
        "sample", search_paths=[str(tmp_path)], docstring_parser="google", resolve_aliases=True
    )
    assert docstring_problems(module["Base"]) == []
    assert docstring_problems(module["f"]) == ["sample.f: Args: does not name ['args']"]
    assert sorted(docstring_problems(module["Child"])) == [
        "sample.Child.more: no docstring",
        "sample.Child.other: Args: does not name ['z']",
        "sample.Child.other: a Sphinx role (:class:`...`); write ``name`` instead",
        "sample.Child: Args: does not name the constructor's ['colour']",
    ]


@pytest.mark.parametrize("module_name", MODULES)
def test_every_public_module_has_an_api_page(module_name: str) -> None:
    name = module_name.removeprefix("minidl.")
    page = API / f"{name}.md"
    assert page.exists(), (
        f"{module_name} has no API page: add {page.relative_to(ROOT)} with '::: {module_name}'"
    )
    assert re.search(rf"^::: {re.escape(module_name)}$", page.read_text(encoding="utf-8"), re.MULTILINE)
    nav = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    assert f"reference/api/{name}.md" in nav, f"mkdocs.yml's nav does not list reference/api/{name}.md"


@pytest.mark.parametrize("module_name", MODULES)
def test_every_exported_class_and_function_has_its_docstring(module_name: str) -> None:
    problems = [problem for obj in _exported(module_name) for problem in docstring_problems(obj)]
    assert not problems, f"{module_name}: {len(problems)} docstring gaps:\n" + "\n".join(problems)


def _built_in_classes() -> list[type]:
    classes: list[type] = [
        Parameter,
        layers.Layer,
        activations.Activation,
        losses.Loss,
        initializers.Initializer,
    ]
    for registry, module in (
        (activations.registry, activations),
        (losses.registry, losses),
        (initializers.registry, initializers),
        (layers.registry, layers),
    ):
        classes += [
            registry.get_class(n)
            for n in registry.names()
            if registry.get_class(n).__module__ == module.__name__
        ]
    return classes


def _public_methods(cls: type) -> list[tuple[str, object]]:
    own = [(name, value) for name, value in vars(cls).items() if inspect.isfunction(value)]
    return [(name, fn) for name, fn in own if not name.startswith("_") or name == "__call__"]


@pytest.mark.parametrize("cls", _built_in_classes(), ids=lambda c: c.__name__)
def test_public_methods_of_built_ins_are_annotated(cls: type) -> None:
    for name, fn in _public_methods(cls):
        signature = inspect.signature(fn)
        bare = [
            p
            for p in list(signature.parameters)[1:]
            if signature.parameters[p].annotation is inspect.Parameter.empty
        ]
        assert not bare, f"{cls.__name__}.{name}: parameters {bare} have no type hint"
        if name != "__init__":
            assert signature.return_annotation is not inspect.Signature.empty, (
                f"{cls.__name__}.{name} has no return hint"
            )

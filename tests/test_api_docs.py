"""The public API stays documented and typed.

Every name in the ``__all__`` of minidl and of each public module must appear as code (inside
backticks or a code block) in README.md or docs/**/*.md, so the docs cannot fall behind; and the
public methods of the built-in components carry type hints on every argument and the result.
"""

from __future__ import annotations

import importlib
import inspect
import os
import pkgutil
import re
from pathlib import Path

import pytest

import minidl
from minidl import activations, initializers, layers, losses
from minidl.parameter import Parameter

ROOT = Path(__file__).resolve().parents[1]
CODE = re.compile(r"```.*?```|`[^`\n]+`", re.DOTALL)
MODULES = [
    "minidl",
    *sorted(
        f"minidl.{info.name}"
        for info in pkgutil.iter_modules(minidl.__path__)
        if not info.name.startswith("_")
    ),
]


def _documented_code() -> str:
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").glob("**/*.md"))]
    return "\n".join(span for page in pages for span in CODE.findall(page.read_text(encoding="utf-8")))


CODE_TEXT = _documented_code()


def undocumented(names: list[str], code: str) -> list[str]:
    return [name for name in names if not re.search(rf"(?<!\w){re.escape(name)}\b", code)]


def test_the_matcher_needs_the_name_as_code() -> None:
    # prose does not count, and a longer name does not hide a shorter one
    assert undocumented(["Check", "pack", "load"], "`Checker` and `unpack()` and `x.load(p)`") == [
        "Check",
        "pack",
    ]


@pytest.mark.parametrize("module_name", MODULES)
def test_every_public_name_is_documented(module_name: str) -> None:
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:  # a module of an optional extra (minidl.sklearn) where it is missing
        if "pip install 'minidl[" not in str(exc) or os.environ.get("MINIDL_REQUIRE_EXTRAS") == "1":
            raise
        pytest.skip(str(exc))
    assert hasattr(module, "__all__"), f"{module_name} has no explicit __all__"
    missing = undocumented(list(module.__all__), CODE_TEXT)
    assert not missing, (
        f"{module_name}: {missing} appear in no code span of README.md or docs/ (add them to docs/reference/api.md)"
    )


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

"""Entry-point plugins, with real distributions made on the fly: a ``*.dist-info`` folder holding
METADATA and entry_points.txt, and the plugin's module, in a folder put on ``sys.path``."""

from __future__ import annotations

import inspect
import os
import re
import subprocess
import sys
import textwrap
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from layer_support import Scale

import minidl
import minidl.cli
from minidl import Dense, Sequential, activations, losses
from minidl.errors import ComponentTypeError, DuplicateNameError, PluginError, UnknownComponentError
from minidl.registry import PluginWarning, iter_registries

CUBE = """
import numpy as np
from minidl import Activation

class Cube(Activation):
    def forward(self, x):
        self.x = x
        return x ** 3

    def backward(self, grad_output):
        return grad_output * 3 * self.x ** 2
"""


class Site:
    """A folder on sys.path where tests install fake distributions."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.modules: list[str] = []

    def install(
        self,
        dist: str,
        entry_points: dict[str, dict[str, str]] | str,
        modules: dict[str, str],
        version: str = "1.0",
        root: Path | None = None,
    ) -> None:
        """A distribution: ``entry_points`` by group, or the raw text of entry_points.txt."""
        root = root or self.root
        info = root / f"{dist.replace('-', '_')}-{version}.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n")
        if isinstance(entry_points, str):
            text = entry_points
        else:
            lines = []
            for group, entries in entry_points.items():
                lines.append(f"[{group}]")
                lines += [f"{name} = {value}" for name, value in entries.items()]
            text = "\n".join(lines) + "\n"
        (info / "entry_points.txt").write_text(text)
        for module, source in modules.items():
            (root / f"{module}.py").write_text(textwrap.dedent(source))
            self.modules.append(module)


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Site]:
    monkeypatch.delenv("MINIDL_DISABLE_PLUGINS", raising=False)
    monkeypatch.syspath_prepend(str(tmp_path))
    fake = Site(tmp_path)
    _refresh()
    yield fake
    for module in fake.modules:
        sys.modules.pop(module, None)
    monkeypatch.undo()
    _refresh()


def _refresh() -> None:
    minidl.registry.refresh()


def test_a_plugin_is_usable_by_name_and_imported_only_when_asked(site: Site) -> None:
    site.install("minidl-cube", {"minidl.activations": {"cube": "cube_plugin:Cube"}}, {"cube_plugin": CUBE})
    assert "cube" in activations.registry.names()
    assert "cube_plugin" not in sys.modules, "listing names must not import plugins"
    model = Sequential([Dense(1, 1, activation="cube", weight_init="ones")], seed=0)
    assert "cube_plugin" in sys.modules
    np.testing.assert_allclose(model.predict([[2.0]]), [[8.0]])
    assert activations.registry.serialize(model.layers[0].activation) == "cube"
    minidl.testing.check_activation(activations.registry.get_class("cube"))


def test_a_builtin_name_is_reserved(site: Site) -> None:
    site.install("minidl-evil", {"minidl.activations": {"relu": "evil:Cube"}}, {"evil": CUBE})
    with pytest.warns(PluginWarning, match=r"Ignoring activation 'relu' from minidl-evil 1\.0"):
        names = activations.registry.names()
    assert names.count("relu") == 1
    assert type(activations.get("relu")) is minidl.ReLU
    assert "evil" not in sys.modules
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the warning is given once per process, not per lookup
        activations.registry.names()
        activations.get("relu")
    statuses = {(i.name, i.source): i.status for i in activations.registry.describe()}
    assert statuses[("relu", "minidl-evil")] == "shadowed"


def test_two_distributions_with_one_name_need_the_qualified_form(site: Site) -> None:
    site.install("dist-a", {"minidl.activations": {"cube": "cube_a:Cube"}}, {"cube_a": CUBE})
    site.install("dist-b", {"minidl.activations": {"cube": "cube_b:Cube"}}, {"cube_b": CUBE})
    with pytest.raises(
        UnknownComponentError, match=r"dist-a 1\.0 and dist-b 1\.0.*'dist-a:cube', 'dist-b:cube'"
    ):
        activations.get("cube")
    chosen = activations.get("dist-b:cube")
    assert type(chosen).__module__ == "cube_b" and "cube_a" not in sys.modules
    assert {"dist-a:cube", "dist-b:cube"} <= set(activations.registry.names())


@pytest.mark.parametrize(
    "value,source,cause",
    [
        ("broken_import:Cube", "import not_a_module_anywhere\n", ModuleNotFoundError),
        ("broken_syntax:Cube", "def oops(:\n", SyntaxError),
        ("broken_raise:Cube", "raise RuntimeError('plugin exploded')\n", RuntimeError),
        ("broken_attr:Missing", CUBE, AttributeError),
    ],
)
def test_a_broken_plugin_breaks_nothing_else(site: Site, value: str, source: str, cause: type) -> None:
    module = value.split(":")[0]
    site.install("minidl-broken", {"minidl.activations": {"bad": value}}, {module: source}, version="2.5")
    site.install("minidl-cube", {"minidl.activations": {"cube": "good_cube:Cube"}}, {"good_cube": CUBE})
    with pytest.raises(PluginError) as info:
        activations.get("bad")
    message = str(info.value)
    assert "'bad'" in message and repr(value) in message and "minidl-broken 2.5" in message
    assert isinstance(info.value.__cause__, cause)
    assert isinstance(info.value, ImportError)
    assert type(activations.get("cube")).__name__ == "Cube"  # the other plugin still works
    assert type(activations.get("sigmoid")) is minidl.Sigmoid
    statuses = {i.name: i.status for i in activations.registry.describe()}
    assert statuses["bad"] == "failed"


def test_a_malformed_entry_point_is_a_plugin_error(site: Site) -> None:
    site.install("minidl-malformed", {"minidl.activations": {"odd": "not a valid :: reference"}}, {})
    with pytest.raises(PluginError, match=r"minidl-malformed 1\.0"):
        activations.get("odd")


@pytest.mark.parametrize(
    "source",
    ["def Cube(x):\n    return x\n", "from minidl import MSE as Cube\n"],
    ids=["function", "wrong-base"],
)
def test_a_plugin_of_the_wrong_kind_is_a_type_error(site: Site, source: str) -> None:
    site.install("minidl-wrong", {"minidl.activations": {"wrong": "wrong_kind:Cube"}}, {"wrong_kind": source})
    before = activations.registry.names()
    with pytest.raises(ComponentTypeError, match=r"minidl-wrong 1\.0.*subclass of minidl\.Activation"):
        activations.get("wrong")
    assert activations.registry.names() == before
    with pytest.raises(ComponentTypeError):
        activations.get("wrong")


def test_plugins_can_be_turned_off(site: Site, monkeypatch: pytest.MonkeyPatch) -> None:
    site.install("minidl-cube", {"minidl.activations": {"cube": "cube_off:Cube"}}, {"cube_off": CUBE})
    monkeypatch.setenv("MINIDL_DISABLE_PLUGINS", "1")
    _refresh()
    assert "cube" not in activations.registry.names()
    with pytest.raises(UnknownComponentError, match="Unknown activation 'cube'"):
        activations.get("cube")


def test_plugins_of_every_group(site: Site) -> None:
    source = CUBE + textwrap.dedent("""
        from minidl import MSE, SGD, Dense
        from minidl.initializers import Constant

        class Twice(MSE):
            pass

        class Slow(SGD):
            pass

        class Wide(Dense):
            @classmethod
            def example(cls):
                return cls(2, 3)

        class Sevens(Constant):
            def __init__(self):
                super().__init__(7.0)

            def get_config(self):
                return {}

        from minidl import Metric, Schedule

        class MaxError(Metric):
            def __call__(self, y_true, y_pred):
                return float(abs(y_pred - y_true).max())

        class Halving(Schedule):
            def __init__(self, learning_rate=0.01):
                self.learning_rate = learning_rate

            def __call__(self, step):
                return self.learning_rate * 0.5**step

            def get_config(self):
                return {"learning_rate": self.learning_rate}
    """)
    groups = {
        "minidl.losses": {"twice": "every:Twice"},
        "minidl.optimizers": {"slow": "every:Slow"},
        "minidl.layers": {"wide": "every:Wide"},
        "minidl.initializers": {"sevens": "every:Sevens"},
        "minidl.metrics": {"max_error": "every:MaxError"},
        "minidl.schedules": {"halving": "every:Halving"},
    }
    site.install("minidl-every", groups, {"every": source})
    model = Sequential(
        [{"type": "wide", "in_features": 2, "out_features": 1, "weight_init": "sevens"}], seed=0
    )
    halving = {"type": "halving", "learning_rate": 0.01}
    model.compile(
        loss="twice",
        optimizer={"type": "slow", "learning_rate": halving, "clipnorm": 1.0},
        metrics=["max_error"],
    )
    np.testing.assert_array_equal(model.get_weights()[0], np.full((2, 1), 7.0))
    history = model.fit([[1.0, 2.0]], [1.0], epochs=2)
    assert model.get_config()["layers"][0]["type"] == "wide"
    assert model.optimizer.learning_rate == 0.01 / 4 and len(history.history["max_error"]) == 2
    assert minidl.optimizers.registry.serialize(model.optimizer)["learning_rate"] == halving
    minidl.testing.check_schedule("halving")
    minidl.testing.check_metric("max_error")


def test_in_process_registration_rules() -> None:
    with pytest.raises(DuplicateNameError, match=r"'mse' is already registered.*replace=True"):
        losses.register("mse")(type("Other", (minidl.MSE,), {}))
    with pytest.raises(ComponentTypeError, match=r"subclass of minidl\.Loss"):
        losses.register("not_a_loss")(dict)
    with pytest.raises(ComponentTypeError, match="abstract"):
        losses.register("abstract_loss")(type("Abstract", (minidl.Loss,), {}))
    replacement = type("Mse2", (minidl.MSE,), {})
    original = losses.registry.get_class("mse")
    try:
        losses.register("mse", replace=True)(replacement)
        assert losses.registry.get_class("mse") is replacement
    finally:
        losses.register("mse", replace=True)(original)
    assert losses.registry.get_class("mse") is original
    assert "not_a_loss" not in losses.registry.names()


class OtherCube(minidl.Activation):
    def forward(self, x):
        return x

    def backward(self, grad_output):
        return grad_output


def test_register_refuses_a_name_an_installed_plugin_offers(site: Site) -> None:
    site.install(
        "minidl-cube",
        {"minidl.activations": {"cube": "taken_cube:Cube"}},
        {"taken_cube": CUBE},
        version="3.1",
    )
    try:
        with pytest.raises(
            DuplicateNameError,
            match=r"'cube' is offered by the installed plugin minidl-cube 3\.1.*replace=True",
        ):
            activations.register("cube")(OtherCube)
    finally:
        if "cube" in activations.registry._classes:
            activations.registry.unregister("cube")
    assert "taken_cube" not in sys.modules, "refusing the name must not import the plugin"
    assert type(activations.get("cube")).__module__ == "taken_cube"  # registry unchanged
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # replacing on purpose is not warned about
            activations.register("cube", replace=True)(OtherCube)
            _refresh()  # nor when the entry points are read again
            assert type(activations.get("cube")) is OtherCube
        statuses = {(i.name, i.source): i.status for i in activations.registry.describe()}
        assert statuses[("cube", "minidl-cube")] == "shadowed"
    finally:
        activations.registry.unregister("cube")
    assert type(activations.get("cube")).__module__ == "taken_cube"  # the plugin is back


def test_register_checks_plugins_not_yet_scanned(site: Site) -> None:
    site.install("minidl-cube", {"minidl.activations": {"cube": "unscanned:Cube"}}, {"unscanned": CUBE})
    assert activations.registry._plugins is None  # nothing has read the entry points yet
    try:
        with pytest.raises(DuplicateNameError, match=r"minidl-cube 1\.0"):
            activations.register("cube")(OtherCube)
    finally:  # a registration that wrongly succeeded must not leak into later tests
        if "cube" in activations.registry._classes:
            activations.registry.unregister("cube")
            pytest.fail("register() silently took a name an installed plugin offers")


def test_a_plugin_module_may_register_its_own_class(site: Site) -> None:
    source = CUBE.replace("from minidl import Activation", "from minidl import Activation, activations")
    source = source.replace(
        "class Cube(Activation):", '@activations.register("selfcube")\nclass Cube(Activation):'
    )
    site.install("minidl-self", {"minidl.activations": {"selfcube": "self_cube:Cube"}}, {"self_cube": source})
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            cls = activations.registry.get_class("selfcube")
            assert cls.__module__ == "self_cube"
            statuses = {(i.name, i.source): i.status for i in activations.registry.describe()}
        assert statuses[("selfcube", "minidl-self")] == "ok"
    finally:
        activations.registry.unregister("selfcube")


def test_a_name_listed_twice_by_one_distribution_is_its_malformed_plugin(site: Site) -> None:
    text = "[minidl.activations]\ncube = dup_mod:Cube\nfine = dup_mod:Cube\ncube = dup_mod:Other\n"
    site.install("minidl-dup", text, {"dup_mod": CUBE + "\nOther = Cube\n"})
    with pytest.raises(
        PluginError,
        match=r"minidl-dup 1\.0.*'cube' is listed 2 times.*line 2: 'dup_mod:Cube', line 4: 'dup_mod:Other'",
    ) as info:
        activations.get("cube")
    assert "several distributions" not in str(info.value)
    assert (
        "cube" not in activations.registry.names() and "minidl-dup:cube" not in activations.registry.names()
    )
    assert type(activations.get("fine")).__name__ == "Cube"  # the distribution's other name works
    rows = [i for i in activations.registry.describe() if i.name == "cube"]
    assert [(r.source, r.status) for r in rows] == [("minidl-dup", "failed")]
    assert "listed 2 times" in rows[0].detail


def test_get_accepts_every_identifier_form() -> None:
    sgd = minidl.SGD(learning_rate=0.2)
    assert minidl.optimizers.get(sgd) is sgd
    assert minidl.optimizers.get(minidl.SGD, learning_rate=0.3).learning_rate == 0.3
    assert minidl.optimizers.get({"type": "sgd", "learning_rate": 0.4}).learning_rate == 0.4
    assert minidl.optimizers.get("sgd", learning_rate=0.5).learning_rate == 0.5
    with pytest.raises(minidl.ConfigError, match=r"Unknown argument.*'lr'.*accepts: learning_rate"):
        minidl.optimizers.get({"type": "sgd", "lr": 0.1})
    with pytest.raises(
        ComponentTypeError, match=r"Cannot make a optimizer from int 3|Cannot make an? optimizer"
    ):
        minidl.optimizers.get(3)
    with pytest.raises(minidl.ConfigError, match="'type' key"):
        minidl.optimizers.get({"learning_rate": 0.1})


# --------------------------------------------------------------------------- more of the rules
CANARY = """
import inspect
import os
import re
open(os.environ["MINIDL_CANARY"], "w").close()  # proves the module was imported
raise RuntimeError("a listing must never import this module")
"""


def test_listing_imports_nothing(site: Site, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    canary = tmp_path / "imported"
    monkeypatch.setenv("MINIDL_CANARY", str(canary))
    site.install(
        "minidl-canary", {"minidl.activations": {"canary": "canary_mod:Cube"}}, {"canary_mod": CANARY}
    )
    assert "canary" in activations.registry.names() and "canary" in activations.registry
    infos = {i.name: i for i in activations.registry.describe()}
    assert infos["canary"].status == "available" and infos["canary"].source == "minidl-canary"
    assert minidl.cli.main(["plugins"]) == 0
    assert not canary.exists() and "canary_mod" not in sys.modules
    with pytest.raises(PluginError, match="a listing must never import"):
        activations.get("canary")
    assert canary.exists()  # the canary works: asking for the name did import it


def test_import_minidl_reads_no_metadata_and_survives_broken_plugins(site: Site, tmp_path: Path) -> None:
    site.install(
        "minidl-broken",
        "[minidl.activations]\nno equals sign here\nbad = exploding:Cube\n",
        {"exploding": "raise SystemExit('a plugin must not end the process')\n"},
    )
    site.install("minidl-cube", {"minidl.activations": {"cube": "sub_cube:Cube"}}, {"sub_cube": CUBE})
    code = (
        "import minidl, sys\n"
        "from minidl.registry import iter_registries\n"
        "assert all(r._plugins is None for r in iter_registries()), 'import minidl scanned metadata'\n"
        "assert 'sub_cube' not in sys.modules\n"
        "from minidl import activations\n"
        "assert type(activations.get('relu')).__name__ == 'ReLU'\n"
        "assert type(activations.get('cube')).__name__ == 'Cube'\n"
        "try:\n    activations.get('bad')\nexcept minidl.PluginError as e:\n"
        "    assert isinstance(e.__cause__, SystemExit), repr(e.__cause__)\n"
        "print('alive')\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), *sys.path])}
    env.pop("MINIDL_DISABLE_PLUGINS", None)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 0 and done.stdout.strip() == "alive", done.stderr


def test_a_malformed_line_costs_only_its_own_name(site: Site) -> None:
    text = (
        "[console_scripts]\nnot minidl's business\n"
        "[minidl.activations]\n"
        "this line has no equals sign\n"
        "Capital = odd_names:Cube\n"
        "cube = odd_names:Cube\n"
    )
    site.install("minidl-odd", text, {"odd_names": CUBE})
    site.install(
        "minidl-other",
        {"minidl.losses": {"twice": "other_loss:Twice"}},
        {"other_loss": "from minidl import MSE\nclass Twice(MSE):\n    pass\n"},
    )
    names = activations.registry.names()
    assert "cube" in names and "Capital" not in names  # the good line of the same file works
    assert type(activations.get("cube")).__name__ == "Cube"
    assert type(losses.get("twice")).__name__ == "Twice"  # and so does every other distribution
    with pytest.raises(
        PluginError, match=r"'Capital' = 'odd_names:Cube'.*minidl-odd 1\.0.*not a valid name"
    ) as info:
        activations.get("Capital")
    assert isinstance(info.value.__cause__, ValueError)
    statuses = {i.name: (i.status, i.detail) for i in activations.registry.describe()}
    assert statuses["this line has no equals sign"][0] == "failed"
    assert "is not 'name = module:Class'" in statuses["this line has no equals sign"][1]


def test_unreadable_metadata_is_skipped_with_a_warning(site: Site) -> None:
    site.install("minidl-cube", {"minidl.activations": {"cube": "ok_cube:Cube"}}, {"ok_cube": CUBE})
    info = site.root / "garbled-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: garbled\nVersion: 1.0\n")
    (info / "entry_points.txt").write_bytes(b"[minidl.activations]\nx = \xff\xfe:bad\n")
    with pytest.warns(PluginWarning, match="unreadable metadata"):
        names = activations.registry.names()
    assert "cube" in names and "relu" in names


def test_a_shadowed_plugin_cannot_be_reached_by_its_qualified_name(site: Site) -> None:
    site.install("minidl-evil", {"minidl.activations": {"relu": "evil_q:Cube"}}, {"evil_q": CUBE})
    with pytest.warns(PluginWarning):
        activations.registry.names()
    with pytest.raises(UnknownComponentError, match=r"'minidl-evil:relu' is ignored.*built-in.*Use 'relu'"):
        activations.get("minidl-evil:relu")
    assert "minidl-evil:relu" not in activations.registry
    # a saved or configured "relu" is the built-in
    model = Sequential.from_config(
        {"layers": [{"type": "dense", "in_features": 1, "out_features": 1, "activation": "relu"}]}
    )
    assert type(model.layers[0].activation) is minidl.ReLU
    assert "evil_q" not in sys.modules


def test_conflicting_names_in_models_and_configs(site: Site) -> None:
    site.install("dist-a", {"minidl.activations": {"cube": "conf_a:Cube"}}, {"conf_a": CUBE})
    site.install("dist-b", {"minidl.activations": {"cube": "conf_b:Cube"}}, {"conf_b": CUBE})
    with pytest.raises(UnknownComponentError, match="several distributions"):
        Sequential(["cube"])  # an activation used as a layer: the conflict, not "unknown layer"
    model = Sequential([Dense(1, 1, activation="dist-a:cube"), "dist-b:cube"], seed=0)
    config = model.get_config()
    assert config["layers"][0]["activation"] == "dist-a:cube" and config["layers"][1]["type"] == "dist-b:cube"
    rebuilt = Sequential.from_config(config)
    assert type(rebuilt.layers[1]).__module__ == "conf_b"
    infos = [i for i in activations.registry.describe() if i.name == "cube"]
    assert [(i.status, i.lookup) for i in infos] == [
        ("conflicting", "dist-a:cube"),
        ("conflicting", "dist-b:cube"),
    ]


def test_a_plugin_class_imported_directly_saves_under_its_entry_point_name(site: Site) -> None:
    site.install("minidl-cube", {"minidl.activations": {"cube": "direct_cube:Cube"}}, {"direct_cube": CUBE})
    import direct_cube

    layer = Dense(2, 1, activation=direct_cube.Cube())
    assert Dense.get_config(layer)["activation"] == "cube"
    assert activations.registry.name_of(direct_cube.Cube) == "cube"


def test_the_same_distribution_twice_on_sys_path_is_not_a_conflict(
    site: Site, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    second = tmp_path / "second"
    second.mkdir()
    site.install("minidl-cube", {"minidl.activations": {"cube": "twice_cube:Cube"}}, {"twice_cube": CUBE})
    site.install(
        "minidl-cube", {"minidl.activations": {"cube": "twice_cube:Cube"}}, {}, version="0.9", root=second
    )
    monkeypatch.syspath_prepend(str(second))
    _refresh()
    assert "cube" in activations.registry.names()
    assert [i.version for i in activations.registry.describe() if i.name == "cube"] == [
        "0.9"
    ]  # first on sys.path


def test_metadata_is_scanned_once_for_all_registries(site: Site, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    real = minidl.registry.metadata.distributions

    def counting(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(minidl.registry.metadata, "distributions", counting)
    _refresh()
    for registry in iter_registries():
        registry.names()
        registry.names()
    assert len(calls) == 1
    site.install("minidl-late", {"minidl.activations": {"late": "late_cube:Cube"}}, {"late_cube": CUBE})
    assert "late" not in activations.registry.names()  # cached until refresh
    _refresh()
    assert "late" in activations.registry.names() and len(calls) == 2


def test_minidl_plugins_shows_every_status(site: Site, capsys: pytest.CaptureFixture[str]) -> None:
    site.install("minidl-evil", {"minidl.activations": {"relu": "st_evil:Cube"}}, {"st_evil": CUBE})
    site.install("dist-a", {"minidl.activations": {"cube": "st_a:Cube"}}, {"st_a": CUBE})
    site.install("dist-b", {"minidl.activations": {"cube": "st_b:Cube"}}, {"st_b": CUBE}, version="2.0")
    site.install(
        "minidl-bad",
        {"minidl.losses": {"broken": "st_broken:Nope"}},
        {"st_broken": "import nowhere_at_all\n"},
    )
    assert minidl.cli.main(["plugins"]) == 0
    out = capsys.readouterr().out
    rows = {tuple(line.split()[:3]): line for line in out.splitlines() if line.startswith("  ")}
    assert "shadowed" in rows[("relu", "minidl-evil", "1.0")]
    assert (
        "conflicting" in rows[("cube", "dist-b", "2.0")]
        and "'dist-b:cube'" in rows[("cube", "dist-b", "2.0")]
    )
    assert "available" in rows[("broken", "minidl-bad", "1.0")]
    assert "st_broken" not in sys.modules
    assert minidl.cli.main(["plugins", "--check"]) == 1  # the broken loss fails
    out = capsys.readouterr().out
    rows = {tuple(line.split()[:3]): line for line in out.splitlines() if line.startswith("  ")}
    assert "failed: ModuleNotFoundError" in rows[("broken", "minidl-bad", "1.0")]
    assert (
        "passes the kit" in rows[("cube", "dist-a", "1.0")]
        and "conflicting" in rows[("cube", "dist-a", "1.0")]
    )


BROKEN_PLUGINS = (
    '''
import numpy as np
from minidl import Activation, Layer, Metric, Parameter


class WrongSquare(Activation):
    """x**2 with a derivative off by 10%."""

    def forward(self, x):
        self.x = x
        return x * x

    def backward(self, grad_output):
        return grad_output * 2.2 * self.x


class Picky(Activation):
    """Raises a TypeError (not an assertion) on every input."""

    def forward(self, x):
        raise TypeError("Picky takes only lists")

    def backward(self, grad_output):
        return grad_output


class TwoLines(Activation):
    """Raises an error whose message has two lines."""

    def forward(self, x):
        raise ValueError("TwoLines refuses every input:\\nit is a test double")

    def backward(self, grad_output):
        return grad_output


class NaNMetric(Metric):
    def __call__(self, y_true, y_pred):
        return float("nan")


'''
    + inspect.getsource(Scale)
    + """

class ForgetfulScale(Scale):
    def parameters(self):
        return []
"""
)

BROKEN_GROUPS = {
    "minidl.activations": {
        "wrong_square": "kit_plugins:WrongSquare",
        "picky": "kit_plugins:Picky",
        "two_lines": "kit_plugins:TwoLines",
    },
    "minidl.metrics": {"nan_metric": "kit_plugins:NaNMetric"},
    "minidl.layers": {"scale": "kit_plugins:Scale", "forgetful_scale": "kit_plugins:ForgetfulScale"},
}


def _failures(out: str, name: str) -> list[str]:
    """The lines under the row of ``name``: one per failing check (continuation lines indented more)."""
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.split()[:1] == [name])
    found = []
    for line in lines[start + 1 :]:
        if not line.startswith("      "):
            break
        found.append(line)
    return found


def test_minidl_plugins_check_prints_every_failing_check_in_full(
    site: Site, capsys: pytest.CaptureFixture[str]
) -> None:
    site.install("minidl-kit-cases", BROKEN_GROUPS, {"kit_plugins": BROKEN_PLUGINS})
    assert minidl.cli.main(["plugins", "--check"]) == 1
    out, err = capsys.readouterr()
    assert err == "" and "Traceback" not in out
    rows = {line.split()[0]: line for line in out.splitlines() if re.match(r"  \S", line)}
    assert "passes the kit" in rows["scale"] and _failures(out, "scale") == []
    for name in ("wrong_square", "picky", "two_lines", "nan_metric", "forgetful_scale"):
        assert re.search(r"fails the kit: \d+ of \d+ checks fail$", rows[name]), rows[name]
    wrong = _failures(out, "wrong_square")
    assert [line.split()[0] for line in wrong] == [
        "[activation:wrong_square-gradients]",
        "[activation:wrong_square-training_mode]",
    ]
    assert re.match(
        r" {6}\[activation:wrong_square-gradients\] WrongSquare: dL/dinput disagrees with central "
        r"differences at \d+ of 40 points; worst at x\[\d+, \d+\] = \S+: \S+ instead of \S+ "
        r"\(tolerance \S+\)$",
        wrong[0],
    ), wrong[0]
    picky = _failures(out, "picky")
    assert "      [activation:picky-shapes] TypeError: Picky takes only lists" in picky
    two_lines = _failures(out, "two_lines")  # every line of a message, the next ones indented more
    assert two_lines[:2] == [
        "      [activation:two_lines-shapes] ValueError: TwoLines refuses every input:",
        "          it is a test double",
    ]
    nan_metric = "      [metric:nan_metric-values] NaNMetric(): value nan is not a finite float"
    assert nan_metric in _failures(out, "nan_metric")
    forgetful = "      [layer:forgetful_scale-parameters] ForgetfulScale.w is a Parameter but parameters() "
    assert any(line.startswith(forgetful) for line in _failures(out, "forgetful_scale"))


def test_minidl_plugins_check_fails_them_under_python_dash_O(site: Site) -> None:
    site.install("minidl-kit-cases", BROKEN_GROUPS, {"kit_plugins": BROKEN_PLUGINS})
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site.root), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run(
        [sys.executable, "-O", "-m", "minidl", "plugins", "--check"],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        check=False,
    )
    assert done.returncode == 1 and done.stderr == "", done.stderr
    assert "[metric:nan_metric-values] NaNMetric(): value nan is not a finite float" in done.stdout
    assert "[activation:wrong_square-gradients] WrongSquare: dL/dinput disagrees" in done.stdout
    assert "[activation:picky-shapes] TypeError: Picky takes only lists" in done.stdout
    assert "[layer:forgetful_scale-parameters]" in done.stdout
    scale = next(line for line in done.stdout.splitlines() if line.split()[:1] == ["scale"])
    assert "passes the kit" in scale


def test_a_plugin_hidden_by_a_builtin_fails_the_check_and_its_warning_points_at_the_plugin(
    site: Site, capsys: pytest.CaptureFixture[str]
) -> None:
    site.install("minidl-evil", {"minidl.activations": {"relu": "hidden_evil:Cube"}}, {"hidden_evil": CUBE})
    with pytest.warns(PluginWarning) as caught:
        activations.registry.names()
    # the plugin's own file and the line of its class, not a line of minidl
    assert caught[0].filename == str(site.root / "hidden_evil.py")
    assert CUBE.splitlines()[caught[0].lineno - 1].startswith("class Cube(")
    assert "hidden_evil" not in sys.modules  # found without importing the plugin
    assert minidl.cli.main(["plugins"]) == 0  # listing is not checking
    assert "shadowed: the built-in activation 'relu' wins" in capsys.readouterr().out
    assert minidl.cli.main(["plugins", "--check"]) == 1
    out = capsys.readouterr().out
    row = next(line for line in out.splitlines() if "minidl-evil" in line)
    assert "hidden: the built-in activation 'relu' wins; rename the plugin's entry point" in row


def test_the_warning_names_the_entry_point_when_the_source_cannot_be_found(site: Site) -> None:
    site.install("minidl-ghost", {"minidl.activations": {"relu": "no_such_module_here:Cube"}}, {})
    with pytest.warns(PluginWarning) as caught:
        activations.registry.names()
    assert caught[0].filename.startswith("<entry point 'relu' = 'no_such_module_here:Cube'")
    assert "minidl" not in Path(caught[0].filename).parts

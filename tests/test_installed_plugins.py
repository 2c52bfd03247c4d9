"""The bundled plugin packages, really installed (``.ci/run`` installs them): their components
work by name in code, in a TOML configuration run by ``minidl train``, and in ``minidl plugins``.

Skipped when the packages are not installed, unless MINIDL_REQUIRE_PLUGINS=1 (as in CI), where a
missing plugin fails.
"""

from __future__ import annotations

import os
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import numpy as np
import pytest

from minidl import Dense, Sequential, activations, cli

PACKAGES = ("minidl-extra-activations", "minidl-extras")


def _installed(dist: str) -> bool:
    try:
        metadata.distribution(dist)
    except metadata.PackageNotFoundError:
        return False
    return True


missing = [d for d in PACKAGES if not _installed(d)]
if missing and os.environ.get("MINIDL_REQUIRE_PLUGINS") != "1":
    pytest.skip(f"not installed: {', '.join(missing)} (pip install ./plugins/*)", allow_module_level=True)


def test_plugins_are_installed() -> None:
    assert not missing, f"MINIDL_REQUIRE_PLUGINS=1 but {missing} are not installed"


def test_a_model_in_code_names_plugin_components() -> None:
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (64, 2))
    y = np.sin(x[:, :1] * 2) + x[:, 1:] ** 2
    noise = {"type": "gaussian_noise", "stddev": 0.05}
    model = Sequential(
        [Dense(2, 16, activation="swish", weight_init="orthogonal"), noise, Dense(16, 1)], seed=0
    )
    w = model.get_weights()[0]
    np.testing.assert_allclose(w @ w.T, np.eye(2), atol=1e-12)  # orthonormal rows: a wide orthogonal matrix
    model.compile(loss={"type": "huber", "delta": 1.0}, optimizer={"type": "rmsprop", "learning_rate": 0.01})
    before = model.evaluate(x, y)
    model.fit(x, y, epochs=60, batch_size=16)
    assert model.evaluate(x, y) < 0.5 * before
    assert model.get_config()["layers"][0]["activation"] == "swish"
    assert "swish" in activations.registry.names()


CONFIG = """
[model]
seed = 1
[[model.layers]]
type = "dense"
in_features = 2
out_features = 8
activation = "gelu"
weight_init = { type = "orthogonal", gain = 2.0 }
[[model.layers]]
type = "gaussian_noise"
stddev = 0.1
[[model.layers]]
type = "dense"
in_features = 8
out_features = 1
activation = "softplus"
[compile]
loss = "huber"
optimizer = { type = "rmsprop", learning_rate = 0.01 }
[fit]
epochs = 30
batch_size = 2
[data]
x = [[0.0, 1.0], [1.0, 0.0], [1.0, 1.0], [0.0, 0.0]]
y = [1.0, 1.0, 2.0, 0.5]
"""


def test_a_toml_configuration_names_plugin_components(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "plugins.toml"
    path.write_text(CONFIG)
    assert cli.main(["train", str(path)]) == 0
    out = capsys.readouterr().out
    assert "Epoch 30/30 - " in out


def test_minidl_plugins_lists_sources_and_checks_them() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "minidl", "plugins", "--check"], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stdout + done.stderr
    lines = {line.split()[0]: line for line in done.stdout.splitlines() if line.startswith("  ")}
    assert "minidl-extra-activations 0.1.0" in lines["swish"] and "passes the kit" in lines["swish"]
    assert "minidl-extras 0.1.0" in lines["gaussian_noise"] and "passes the kit" in lines["gaussian_noise"]
    assert "built-in" in lines["dropout"]  # the core owns it: minidl-extras no longer offers it
    assert "minidl-extras 0.1.0" in lines["orthogonal"] and "passes the kit" in lines["orthogonal"]
    groups = {
        line.split()[-1].rstrip("):") for line in done.stdout.splitlines() if "entry-point group" in line
    }
    plugin_groups = {ep.group for dist in PACKAGES for ep in metadata.distribution(dist).entry_points}
    # together the bundled plugins cover every group a plugin can extend
    assert {
        "minidl.layers",
        "minidl.activations",
        "minidl.losses",
        "minidl.optimizers",
        "minidl.initializers",
    } <= plugin_groups
    assert plugin_groups <= groups
    assert "built-in" in lines["relu"]

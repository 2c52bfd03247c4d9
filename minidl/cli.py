"""The ``minidl`` command: ``minidl train CONFIG``, ``minidl predict MODEL DATA``, ``minidl sweep
CONFIG``, ``minidl configs [show NAME]``, ``minidl plugins``, ``minidl --version``.

Every option and configuration value is checked before training starts; a mistake ends the
command with ``minidl: error: ...`` and status 2, never a traceback. Ctrl-C during ``minidl
train`` ends it with one line saying what was interrupted, at which epoch and what was saved,
and status 130. The exit statuses are listed in ``EXIT_STATUSES``.

Output piped into a reader that stops early (``minidl plugins | head -2``) ends the command
quietly with status 141 (128 + SIGPIPE, what the shell reports for ``yes | head``), as Unix
tools do, instead of a BrokenPipeError traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from . import __version__, config
from .errors import DataError, MinidlError

__all__ = ["main", "build_parser", "EXIT_STATUSES"]

#: Exit status when the reader of our output went away: 128 + SIGPIPE, as a shell reports it.
BROKEN_PIPE_STATUS = 141
#: Exit status after Ctrl-C: 128 + SIGINT, as a shell reports it.
INTERRUPTED_STATUS = 130

#: What each exit status of the command means (the command-line reference lists them).
EXIT_STATUSES: dict[int, str] = {
    0: "success",
    1: "`minidl plugins --check`: a plugin failed to load, fails the conformance kit, or is hidden by a built-in",
    2: "a usage mistake or a refused configuration, option, model file or data file (`minidl: error: ...`)",
    INTERRUPTED_STATUS: "interrupted by Ctrl-C (`minidl train` says at which epoch and what was saved)",
    BROKEN_PIPE_STATUS: "the reader of the output closed the pipe early (`minidl plugins | head -2`)",
}


def build_parser() -> argparse.ArgumentParser:
    """The ``minidl`` argument parser (docs/reference/cli.md is generated from it).

    Returns:
        A new parser.
    """
    parser = argparse.ArgumentParser(
        prog="minidl", description="A small plugin-based deep-learning framework."
    )
    parser.add_argument("--version", action="version", version=f"minidl {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    train = sub.add_parser("train", help="train a bundled configuration or a TOML file")
    train.add_argument("config", help="a bundled name (see 'minidl configs') or a path to a .toml file")
    train.add_argument("--seed", type=int, help="seed for initial weights and shuffling (overrides the file)")
    train.add_argument("--epochs", type=int, help="number of epochs (overrides the file)")
    train.add_argument(
        "--plot",
        metavar="IMAGE",
        help="save the loss curves (and the decision boundary for 2-input data) to IMAGE, e.g. out.png; needs matplotlib",
    )
    train.add_argument(
        "--save",
        metavar="FILE",
        help="save the trained model to FILE, e.g. model.minidl (minidl predict reads it)",
    )
    train.set_defaults(run=_train)

    predict = sub.add_parser(
        "predict", help="write a saved model's predictions for the samples of a .csv or .npy file"
    )
    predict.add_argument("model", help="a model file written by 'minidl train --save' or Sequential.save")
    predict.add_argument(
        "data",
        help="the inputs: a .npy array of shape (samples, *input_shape), or a .csv file of one sample per "
        "line (comma-separated numbers, flattened in C order; a first line that is not numbers is a header)",
    )
    predict.add_argument(
        "--out",
        metavar="FILE",
        help="write the predictions to FILE: .npy for an array of shape (samples, *output_shape), anything "
        "else for CSV (default: CSV on standard output)",
    )
    predict.add_argument(
        "--batch-size", type=int, metavar="N", help="samples per forward pass (default: all at once)"
    )
    predict.set_defaults(run=_predict)

    sweep = sub.add_parser(
        "sweep", help="train a configuration many times: a grid of values x seeds, on local processes or Ray"
    )
    sweep.add_argument("config", help="a bundled name (see 'minidl configs') or a path to a .toml file")
    sweep.add_argument(
        "--grid",
        action="append",
        default=[],
        metavar="KEY=V1,V2",
        help="values for a key of the configuration, e.g. optimizer.learning_rate=0.01,0.1; repeatable",
    )
    sweep.add_argument("--seeds", help="model seeds, e.g. 0-19 or 0,3,5-7 (default: the file's seed)")
    sweep.add_argument(
        "--trials", type=int, metavar="N", help="run only N grid points (the first, or --random)"
    )
    sweep.add_argument("--random", action="store_true", help="draw the --trials grid points at random")
    sweep.add_argument("--sample-seed", type=int, default=0, help="seed of the --random draw (default 0)")
    sweep.add_argument(
        "--backend",
        choices=["local", "ray", "serial"],
        default="local",
        help="local worker processes (default), Ray tasks, or this process one by one",
    )
    sweep.add_argument(
        "--workers", type=int, help="worker processes, or a local Ray's CPUs (default: every core)"
    )
    sweep.add_argument("--threads", type=int, default=1, help="BLAS threads per trial (default 1)")
    sweep.add_argument(
        "--address", help="the Ray cluster to use, e.g. auto or ray://host:10001 (default: start one)"
    )
    sweep.add_argument(
        "--metric", help="the figure that ranks trials (default: test_<metric> with a test split)"
    )
    sweep.add_argument(
        "--mode",
        choices=["auto", "max", "min"],
        default="auto",
        help="higher or lower is better (default: from the metric)",
    )
    sweep.add_argument("--target", type=float, help="count, per grid point, the trials that reach this value")
    sweep.add_argument("--out", required=True, help="output folder; run the same command again to resume")
    sweep.add_argument(
        "--no-plot", action="store_true", help="do not draw sweep.png (drawn when matplotlib is installed)"
    )
    sweep.set_defaults(run=_sweep)  # fmt: skip

    configs = sub.add_parser("configs", help="list the bundled configurations, or show one")
    configs.set_defaults(run=_configs)
    show = configs.add_subparsers(dest="action", metavar="{show}").add_parser(
        "show", help="print a bundled configuration's TOML, to start a file of your own from"
    )
    show.add_argument("name", help="a bundled configuration's name (see 'minidl configs')")
    show.set_defaults(run=_show)

    plugins = sub.add_parser("plugins", help="list every component by kind, with its source and status")
    plugins.add_argument(
        "--check",
        action="store_true",
        help="import the plugins and run the conformance kit on each; exit 1 if one fails or is hidden by a built-in",
    )
    plugins.set_defaults(run=_plugins)
    return parser


def _train(args: argparse.Namespace) -> int:
    try:
        config.train(
            config.load(args.config), seed=args.seed, epochs=args.epochs, plot=args.plot, save=args.save
        )
    except config.TrainingInterrupted as exc:
        print(f"minidl: interrupted: {exc}", file=sys.stderr)  # one line, no traceback
        return INTERRUPTED_STATUS
    except KeyboardInterrupt:  # while preparing or reporting, outside the epochs
        print(
            f"minidl: interrupted: {args.config}, outside the training epochs; nothing was saved.",
            file=sys.stderr,
        )
        return INTERRUPTED_STATUS
    return 0


def _predict(args: argparse.Namespace) -> int:
    from .model import load

    model = load(args.model)
    inputs = _read_inputs(args.data, model.input_shape)
    predictions = model.predict(inputs, batch_size=args.batch_size)
    if args.out is not None and args.out.endswith(".npy"):
        config.check_save_path(args.out)
        np.save(args.out, predictions, allow_pickle=False)
    elif args.out is not None:
        config.check_save_path(args.out)
        with open(args.out, "w", encoding="utf-8") as stream:
            _write_csv(stream, predictions)
    else:
        _write_csv(sys.stdout, predictions)
    return 0


def _read_inputs(path: str, input_shape: tuple[int, ...] | None) -> np.ndarray:
    """The samples of a .npy or .csv file; a CSV row is reshaped to ``input_shape`` when it has more axes."""
    if not os.path.isfile(path):
        raise DataError(f"No data file at {path!r}; give a .npy or .csv file.")
    try:
        if path.endswith(".npy"):
            return np.asarray(np.load(path, allow_pickle=False))
        with open(path, encoding="utf-8") as stream:
            first = stream.readline()
        header = bool(first.strip()) and not _is_numbers(first)
        with warnings.catch_warnings():  # an empty file is reported below, as an error
            warnings.simplefilter("ignore", UserWarning)
            rows = np.loadtxt(path, delimiter=",", ndmin=2, skiprows=int(header), dtype=np.float64)
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise DataError(f"Could not read the samples of {path!r}: {exc}") from None
    if not rows.size:
        raise DataError(f"{path!r} holds no samples: give one line of comma-separated numbers per sample.")
    if input_shape is not None and len(input_shape) > 1 and rows.shape[1] == int(np.prod(input_shape)):
        rows = rows.reshape(len(rows), *input_shape)
    return rows


def _is_numbers(line: str) -> bool:
    try:
        [float(cell) for cell in line.split(",")]
    except ValueError:
        return False
    return True


def _write_csv(stream: Any, predictions: np.ndarray) -> None:
    """One line per sample: a header ``output_0,output_1,...``, then each output flattened, exact
    (17 significant digits, so reading it back gives the same float64)."""
    flat = predictions.reshape(len(predictions), -1)
    header = ",".join(f"output_{i}" for i in range(flat.shape[1]))
    np.savetxt(stream, flat, fmt="%.17g", delimiter=",", header=header, comments="")


def _sweep(args: argparse.Namespace) -> int:
    from .sweeps import sweep

    try:
        result = sweep(
            args.config, out=args.out, grid=args.grid, seeds=args.seeds, trials=args.trials, random=args.random,
            sample_seed=args.sample_seed, backend=args.backend, workers=args.workers, threads=args.threads,
            address=args.address, metric=args.metric, mode=args.mode, target=args.target, plot=not args.no_plot,
            stream=sys.stdout,
        )  # fmt: skip
    except KeyboardInterrupt:
        return 130  # 128 + SIGINT; the sweep said where its finished trials are
    print(result.summary_text())
    return 0


def _configs(args: argparse.Namespace) -> int:
    for name in config.bundled():
        print(f"{name:<20} {config.load(name).description}")
    return 0


def _show(args: argparse.Namespace) -> int:
    print(config.bundled_text(args.name), end="")
    return 0


def _plugins(args: argparse.Namespace) -> int:
    from .registry import DISABLE_ENV, PluginWarning, iter_registries, plugins_disabled

    if plugins_disabled():
        print(
            f"Plugin discovery is off ({DISABLE_ENV}={os.environ[DISABLE_ENV]}): only built-in and in-process components are listed."
        )
    with warnings.catch_warnings():  # a shadowed plugin is shown in the table, not warned about
        warnings.simplefilter("ignore", PluginWarning)
        tables = [(registry, registry.describe(load=args.check)) for registry in iter_registries()]
    width = max([24, *(len(info.name) + 1 for _, infos in tables for info in infos)])
    failed = 0
    for registry, infos in tables:
        print(f"{registry.plural} (entry-point group {registry.group}):")
        for info in infos:
            status, detail = info.status, info.detail
            failures: list[str] = []
            if args.check and status in ("ok", "conflicting") and info.source != "built-in":
                status, detail, failures = _kit_status(registry, info.lookup, status, detail)
            if args.check and status == "shadowed":  # the plugin's author should rename it
                status, detail = "hidden", f"{detail}; rename the plugin's entry point"
            failed += status in ("failed", "hidden") or status.startswith("fails")
            source = f"{info.source} {info.version}".strip()
            print(f"  {info.name:<{width}} {source:<36} {status}" + (f": {detail}" if detail else ""))
            for failure in failures:  # every failing check: its id and its whole message
                print(_indented(failure, 6))
    return 1 if failed else 0


def _kit_status(registry: Any, name: str, status: str, detail: str) -> tuple[str, str, list[str]]:
    """Runs every check of the kit on one plugin component: its status, detail and failures."""
    from .testing import CheckFailure, checks

    failures: list[str] = []
    try:
        component_checks = checks(registry.get_class(name))
        for check in component_checks:
            try:
                check()
            except CheckFailure as exc:  # a check reports any exception as a CheckFailure
                failures.append(str(exc))
    except Exception as exc:  # noqa: BLE001 - any failure of a plugin is reported, not raised
        return "fails the kit", f"{type(exc).__name__}: {exc}", []
    if failures:
        return "fails the kit", f"{len(failures)} of {len(component_checks)} checks fail", failures
    return status, f"{detail}; passes the kit" if detail else "passes the kit", []


def _indented(text: str, spaces: int) -> str:
    """``text`` indented by ``spaces``, its continuation lines by 4 more."""
    first, *rest = text.splitlines() or [""]
    return "\n".join([" " * spaces + first, *(" " * (spaces + 4) + line for line in rest)])


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the command line.

    Args:
        argv: the arguments after the program's name (``sys.argv[1:]`` when None).

    Returns:
        The exit status, one of ``EXIT_STATUSES``.
    """
    try:
        try:
            return _run(argv)
        finally:
            sys.stdout.flush()  # inside the try: a closed pipe found at exit could not be caught
    except BrokenPipeError:
        _discard_stdout()
        return BROKEN_PIPE_STATUS


def _run(argv: Sequence[str] | None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.run(args))
    except MinidlError as exc:
        print(f"minidl: error: {exc}", file=sys.stderr)
        return 2


def _discard_stdout() -> None:
    # What is still buffered for the closed pipe is flushed again at interpreter exit; point
    # file descriptor 1 at /dev/null so that flush succeeds silently (the recipe of Python's
    # signal module documentation).
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (AttributeError, OSError, ValueError):  # stdout replaced by an object without a file descriptor
        pass


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

"""The ``minidl`` command: ``minidl train CONFIG``, ``minidl sweep CONFIG``, ``minidl configs``,
``minidl plugins``, ``minidl --version``.

Output piped into a reader that stops early (``minidl plugins | head -2``) ends the command
quietly with status 141 (128 + SIGPIPE, what the shell reports for ``yes | head``), as Unix
tools do, instead of a BrokenPipeError traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import Any

from . import __version__, config
from .errors import MinidlError

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
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
    train.set_defaults(run=_train)

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

    configs = sub.add_parser("configs", help="list the bundled configurations")
    configs.set_defaults(run=_configs)

    plugins = sub.add_parser("plugins", help="list every component by kind, with its source and status")
    plugins.add_argument(
        "--check", action="store_true", help="import the plugins and run the conformance kit on each"
    )
    plugins.set_defaults(run=_plugins)
    return parser


def _train(args: argparse.Namespace) -> int:
    config.train(config.load(args.config), seed=args.seed, epochs=args.epochs, plot=args.plot)
    return 0


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


def _plugins(args: argparse.Namespace) -> int:
    import warnings

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
            failed += status == "failed" or status.startswith("fails")
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


#: Exit status when the reader of our output went away: 128 + SIGPIPE, as a shell reports it.
BROKEN_PIPE_STATUS = 141


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the command line; returns the exit status (2 for a usage or configuration error,
    141 when the output's reader closed the pipe early).

    Args:
        argv: the arguments, without the program name (None: ``sys.argv[1:]``).
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
    args = _parser().parse_args(argv)
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

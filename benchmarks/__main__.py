"""``python -m benchmarks [--quick] [--out FOLDER] [--only W1,W3]``: run the suite, write its reports."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .suite import WORKLOADS, failed_checks, run_suite, write_outputs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes and few repeats: under a minute")
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("benchmark-results"),
        help="folder for results.md, results.json and results.png (default: %(default)s)",
    )
    parser.add_argument(
        "--only",
        default=",".join(WORKLOADS),
        help=f"comma-separated workloads to run (default: all of {','.join(WORKLOADS)})",
    )
    args = parser.parse_args(argv)
    only = tuple(name.strip() for name in args.only.split(",") if name.strip())
    unknown = sorted(set(only) - set(WORKLOADS))
    if unknown:
        parser.error(f"unknown workload(s) {unknown}; choose from {', '.join(WORKLOADS)}")
    results = run_suite(quick=args.quick, only=only)
    for path in write_outputs(results, args.out):
        print(f"wrote {path}")
    for target in results["targets"]:
        measured = "n/a" if target["measured"] is None else f"{target['measured']:.2f}"
        print(f"  {target['target']}: {measured} (goal {target['goal']}): {target['verdict']}")
    failures = failed_checks(results)
    for failure in failures:
        print(f"CHECK FAILED: {failure}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

"""``python -m benchmarks [--quick] [--out DIR] [--only W1,W3,...]``: run the suite and report."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from . import peers, report, workloads
from .harness import environment

RUNS = {
    "W1": workloads.w1,
    "W2": workloads.w2,
    "W3": workloads.w3,
    "W4": workloads.w4,
    "W5": workloads.w5,
    "scaling": workloads.scaling,
    "memory": workloads.memory,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description="minidl against its peers")
    parser.add_argument("--quick", action="store_true", help="small sizes and few repeats: under a minute")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results"), help="folder for results.{md,json,png}")
    parser.add_argument("--only", help=f"comma-separated subset of {', '.join(RUNS)}")
    args = parser.parse_args(argv)
    chosen = args.only.split(",") if args.only else list(RUNS)
    unknown = [c for c in chosen if c not in RUNS]
    if unknown:
        parser.error(f"unknown workload(s) {unknown}; choose from {', '.join(RUNS)}")
    settings = workloads.Settings(args.quick)
    for peer, ok in (("PyTorch", peers.torch_available), ("scikit-learn", peers.sklearn_available)):
        if not ok:
            print(f"note: {peer} is not installed; its columns are skipped", file=sys.stderr)
    start = time.perf_counter()
    results: list[dict] = []
    for name in chosen:
        print(f"running {name} ...", file=sys.stderr, flush=True)
        out = RUNS[name](settings)
        results += out if isinstance(out, list) else [out]
    full = {"mode": "quick" if args.quick else "full", "environment": environment(), "workloads": results,
            "seconds": time.perf_counter() - start}
    full["targets"] = report.targets(full)
    for path in report.write(full, args.out):
        print(f"wrote {path}", file=sys.stderr)
    print(report.markdown(full))
    return 0


if __name__ == "__main__":
    sys.exit(main())

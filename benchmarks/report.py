"""Markdown, JSON and PNG output of a benchmark run, with the ratios the targets are stated in."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

__all__ = ["targets", "markdown", "write"]


def _time(result: dict[str, Any], impl: str) -> float | None:
    for row in result.get("rows", []):
        if row.get("impl") == impl:
            return row["timing"]["median"]
    return None


def _ratio(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else a / b


def targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Each performance target of the brief: the measured ratio, the bound, met or not."""
    out: list[dict[str, Any]] = []

    def add(what: str, value: float | None, bound: float, at_most: bool) -> None:
        met = None if value is None else (value <= bound if at_most else value >= bound)
        out.append({"target": what, "value": value, "bound": f"{'<=' if at_most else '>='} {bound:g}", "met": met})

    w = {r["name"].split(" ")[0] + (" " + r["name"].split(", ")[-1] if r["name"].startswith("W3") else ""): r
         for r in results["workloads"] if "rows" in r}
    if "W1" in w:
        add("W1 minidl step / numpy lecture-style step", _ratio(_time(w["W1"], "minidl"), _time(w["W1"], "numpy (lecture, scalar)")), 1.5, True)
        add("W1 PyTorch step / minidl step", _ratio(_time(w["W1"], "pytorch"), _time(w["W1"], "minidl")), 10, False)
    if "W2" in w:
        add("W2 minidl step / numpy lecture step", _ratio(_time(w["W2"], "minidl"), _time(w["W2"], "numpy (lecture)")), 1.5, True)
        add("W2 PyTorch step / minidl step", _ratio(_time(w["W2"], "pytorch"), _time(w["W2"], "minidl")), 10, False)
    for key in ("W3 float64", "W3 float32"):
        if key in w:
            add(f"{key} minidl samples/s / numpy samples/s", _ratio(_time(w[key], "numpy"), _time(w[key], "minidl")), 0.9, False)
    if "W4" in w:
        add("W4 minidl samples/s / numpy samples/s", _ratio(_time(w["W4"], "numpy"), _time(w["W4"], "minidl")), 0.95, False)
        add("W4 minidl samples/s / PyTorch samples/s", _ratio(_time(w["W4"], "pytorch"), _time(w["W4"], "minidl")), 1.0, False)
        limit = next((r["matmul_gflops"]["float32"] for r in results["workloads"] if r["name"] == "W5 limits"), None)
        gflops = next((row["gflops"] for row in w["W4"]["rows"] if row["impl"] == "minidl"), None)
        add("W4 minidl GFLOP/s / matmul limit", _ratio(gflops, limit), 0.85, False)
    mem = next((r for r in results["workloads"] if r["name"].startswith("Peak memory")), None)
    if mem and {"minidl", "numpy"} <= set(mem["peaks"]):
        add("peak memory of fit, minidl / numpy", mem["peaks"]["minidl"]["peak_bytes"] / mem["peaks"]["numpy"]["peak_bytes"], 1.2, True)
    return out


def _fmt_time(seconds: float) -> str:
    for unit, scale in (("s", 1), ("ms", 1e-3), ("us", 1e-6), ("ns", 1e-9)):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds:.3g} s"


def _workload_table(result: dict[str, Any]) -> list[str]:
    base = _time(result, "minidl")
    extras = [k for k in ("samples_per_s", "gflops", "accuracy") if any(k in r for r in result["rows"])]
    head = ["implementation", f"median ({result['unit'].split('/')[1]})", "min", "max", "time / minidl", "final loss", "same loss", *extras]
    lines = [f"### {result['name']}", "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in result["rows"]:
        t = row["timing"]
        cells = [row["impl"], _fmt_time(t["median"]), _fmt_time(t["min"]), _fmt_time(t["max"]),
                 f"{t['median'] / base:.2f}x" if base else "", f"{row['loss']:.6g}", "yes" if row.get("agrees") else "NO"]
        cells += [f"{row[k]:,.0f}" if k == "samples_per_s" else f"{row[k]:.3g}" if k in row else "" for k in extras]
        lines.append("| " + " | ".join(cells) + " |")
    lines += [""] + [f"- {note}" for note in result.get("notes", [])] + [""]
    return lines


def markdown(results: dict[str, Any]) -> str:
    env = results["environment"]
    lines = ["## Environment", ""]
    lines.append(f"- machine: {env['machine']}, {env['cpu']}, {env['cores']} cores; Python {env['python']}")
    lines.append("- versions: " + ", ".join(f"{k} {v}" for k, v in env["versions"].items() if v))
    for blas in env["blas"]:
        lines.append("- BLAS: " + ", ".join(f"{k}={v}" for k, v in blas.items() if k != "filepath"))
    lines.append(f"- OPENBLAS_CORETYPE: {env['OPENBLAS_CORETYPE'] or 'not set'}; mode: {results['mode']}; total {results['seconds']:.0f} s")
    lines += ["", "## Targets", "", "| target | measured | bound | met |", "|---|---|---|---|"]
    for t in results["targets"]:
        value = "n/a (peer not installed)" if t["value"] is None else f"{t['value']:.3g}"
        met = "n/a" if t["met"] is None else ("yes" if t["met"] else "**no**")
        lines.append(f"| {t['target']} | {value} | {t['bound']} | {met} |")
    lines += ["", "## Workloads", ""]
    for result in results["workloads"]:
        if "rows" in result and result["rows"] and "impl" in result["rows"][0]:
            lines += _workload_table(result)
        elif result["name"] == "W5 limits":
            lines += ["### W5 limits", ""]
            lines += [f"- matrix products of one W4 step, {k}: {v:.1f} GFLOP/s" for k, v in result["matmul_gflops"].items()]
            lines.append(f"- one tiny numpy call (np.add on 2 elements): {_fmt_time(result['numpy_call_s'])}")
            if "torch_call_s" in result:
                lines.append(f"- one tiny PyTorch call (torch.add on 2 elements): {_fmt_time(result['torch_call_s'])}")
            lines.append("")
        elif result["name"].startswith("Scaling"):
            lines += [f"### {result['name']}", "", "| samples | width | minidl | numpy | minidl / numpy |", "|---|---|---|---|---|"]
            for row in result["rows"]:
                lines.append(f"| {row['samples']:,} | {row['width']} | {_fmt_time(row['minidl'])} | {_fmt_time(row['numpy'])} | {row['minidl'] / row['numpy']:.2f}x |")
            lines.append("")
        elif result["name"].startswith("Peak memory"):
            lines += [f"### {result['name']}", ""]
            for impl, peak in result["peaks"].items():
                lines.append(f"- {impl}: peak {peak['peak_bytes'] / 2**20:.1f} MiB")
            lines.append(f"- for scale: data {result['data_bytes'] / 2**20:.1f} MiB, parameters {result['param_bytes'] / 2**20:.1f} MiB, one batch's activations {result['batch_activation_bytes'] / 2**20:.1f} MiB")
            lines += [f"- {note}" for note in result["notes"]] + [""]
    return "\n".join(lines) + "\n"


def _chart(results: dict[str, Any], path: Path) -> bool:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    timed = [r for r in results["workloads"] if r.get("rows") and "impl" in r["rows"][0]]
    if not timed:
        return False
    fig, ax = plt.subplots(figsize=(9, 4.5))
    impls = sorted({row["impl"] for r in timed for row in r["rows"]})
    width = 0.8 / len(impls)
    for k, impl in enumerate(impls):
        xs, ys = [], []
        for i, r in enumerate(timed):
            base, t = _time(r, "minidl"), _time(r, impl)
            if base and t:
                xs.append(i + k * width)
                ys.append(t / base)
        ax.bar(xs, ys, width, label=impl)
    ax.axhline(1.0, color="black", linewidth=0.8)
    ax.set_yscale("log")
    ax.set_xticks([i + 0.4 - width / 2 for i in range(len(timed))], [r["name"].split(" (")[0] for r in timed], rotation=15, fontsize=8)
    ax.set_ylabel("time relative to minidl (log scale; lower is faster)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def write(results: dict[str, Any], folder: Path) -> list[Path]:
    """Writes results.json, results.md and (with matplotlib) results.png into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    written = [folder / "results.json", folder / "results.md"]
    written[0].write_text(json.dumps(results, indent=2, default=str), encoding="utf-8")
    written[1].write_text(markdown(results), encoding="utf-8")
    if _chart(results, folder / "results.png"):
        written.append(folder / "results.png")
    return written

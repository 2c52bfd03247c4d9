"""The minidl benchmark suite: ``python -m benchmarks [--quick]``.

Runs each workload for every implementation that is installed (minidl, hand-written numpy,
PyTorch, scikit-learn) side by side in one process, checks that they reach the same loss from the
same initial weights, and writes a Markdown table, JSON and a PNG chart.
"""

__all__: list[str] = []

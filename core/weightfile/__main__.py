"""Command line: python -m core.weightfile PATH [--budget-bits B | --budget-mb MB] [--method M]
[--json report.json] [--csv report.csv] [--export quantized.safetensors]

PATH is a .safetensors / .npz / .npy file, a folder of safetensors shards or a *.index.json. Files of
any size are read one tensor at a time. Prints the per-tensor report (SQNR in dB at 2…8 bits for
the chosen method) and the bit allocation; a progress bar goes to stderr.
"""

from __future__ import annotations

import argparse
import sys
import time

from core.weightfile.budget import BitAllocation, allocate_bits, in_format, uniform_bits
from core.weightfile.export import report_to_csv, report_to_json, write_quantized
from core.weightfile.read import open_weights
from core.weightfile.report import KMEANS, METHODS, WeightReport, report_file

_BAR_WIDTH = 30


class ProgressBar:
    """A one-line progress bar on stderr, redrawn at most ten times a second."""

    def __init__(self, label: str) -> None:
        self.label, self.started, self.drawn = label, time.monotonic(), 0.0

    def __call__(self, fraction: float, text: str) -> None:
        now = time.monotonic()
        if now - self.drawn < 0.1 and fraction < 1:
            return
        self.drawn = now
        filled = round(_BAR_WIDTH * fraction)
        line = f"\r{self.label} [{'#' * filled}{'.' * (_BAR_WIDTH - filled)}] {fraction:4.0%} {now - self.started:5.1f} s  {text[:50]:<50}"
        sys.stderr.write(line + ("\n" if fraction >= 1 else ""))
        sys.stderr.flush()


def parse_arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m core.weightfile", description=__doc__.split("\n\n")[0])
    parser.add_argument("path", help="a .safetensors, .npz or .npy file, a folder of safetensors shards, or a *.index.json")
    budget = parser.add_mutually_exclusive_group()
    budget.add_argument("--budget-bits", type=float, help="average bits per quantized weight, scales and codebooks included")
    budget.add_argument("--budget-mb", type=float, help="total size of the quantized file in MB (10^6 bytes), kept tensors included")
    parser.add_argument("--method", choices=METHODS, default=KMEANS, help=f"quantization method for the budget and export (default {KMEANS})")
    parser.add_argument("--json", help="write the full report as JSON to this path")
    parser.add_argument("--csv", help="write the full report as CSV to this path")
    parser.add_argument("--export", help="write the quantized file (safetensors, needs a budget) to this path")
    arguments = parser.parse_args(argv)
    if arguments.export and arguments.budget_bits is None and arguments.budget_mb is None:
        parser.error("--export needs a budget: --budget-bits or --budget-mb")
    return arguments


def report_lines(report: WeightReport, method: str, allocation: BitAllocation | None) -> list[str]:
    """The per-tensor table printed to stdout."""
    bits_header = " ".join(f"{bits:>5}b" for bits in report.bit_widths)
    lines = [f"{'tensor':<40} {'shape':>16} {'dtype':>7} {'kurtosis':>9}  SQNR dB, {method}: {bits_header}  chosen"]
    for tensor in report.tensors:
        shape = "x".join(map(str, tensor.shape)) or "scalar"
        if not tensor.quantized:
            lines.append(f"{tensor.name[:40]:<40} {shape:>16} {tensor.dtype:>7}  {tensor.status}")
            continue
        sqnr = " ".join(f"{value:6.1f}" for value in tensor.sqnr_db(method))
        chosen = f"{allocation.bits[tensor.name]} bits" if allocation else ""
        lines.append(f"{tensor.name[:40]:<40} {shape:>16} {tensor.dtype:>7} {tensor.statistics.excess_kurtosis:9.2f}  {' ' * (len(method) + 10)}{sqnr}  {chosen}")
    return lines


def main(argv: list[str] | None = None) -> int:
    arguments = parse_arguments(argv)
    try:
        weights = open_weights(arguments.path)
        report = report_file(weights, progress=ProgressBar("report"))
        allocation = None
        if arguments.budget_bits is not None or arguments.budget_mb is not None:
            allocation = allocate_bits(report, arguments.method, bits_per_weight=arguments.budget_bits, megabytes=arguments.budget_mb)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print("\n".join(report_lines(report, arguments.method, allocation)))
    if allocation:
        print(
            f"\nBudget ({arguments.method}): {allocation.bits_per_weight:.3f} bits per weight, {allocation.total_bytes / 1e6:.3f} MB, "
            f"relative error {allocation.relative_error:.4g} (no allocation within the budget is below {allocation.relative_error_bound:.4g})"
        )
        for bits in report.bit_widths:
            uniform = uniform_bits(report, arguments.method, bits)
            print(f"  uniform {bits} bits: {uniform.bits_per_weight:.3f} bits per weight, {uniform.total_bytes / 1e6:.3f} MB, relative error {uniform.relative_error:.4g}")
        for fmt in report.formats:
            size, error = in_format(report, fmt)
            print(f"  every tensor in {fmt}: {size / 1e6:.3f} MB, relative error {error:.4g}")
    if arguments.json:
        with open(arguments.json, "w") as file:
            file.write(report_to_json(report))
    if arguments.csv:
        with open(arguments.csv, "w", newline="") as file:
            file.write(report_to_csv(report))
    if arguments.export:
        with open(arguments.export, "wb") as file:
            written = write_quantized(weights, report, allocation, file, progress=ProgressBar("export"))
        print(f"Wrote {arguments.export}: {written:,} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Per-kernel table of one decode step from `ncu --csv --page raw` output (run_device.sh's
kernels step): kernels grouped by name and grid, mean time per launch, launches and time per
step, and the DRAM read rate each achieves."""
import csv
import sys
from collections import defaultdict


def main(path):
    lines = [l for l in open(path, errors="replace") if l.startswith('"')]
    rows = list(csv.DictReader(lines))
    groups = defaultdict(lambda: [0, 0.0, 0.0])
    num = lambda x: float(x.replace(",", ""))  # ncu groups digits with commas
    rows = [r for r in rows if r.get("gpu__time_duration.sum", "").replace(",", "").isdigit()]
    # Whole steps only: from just after the first argmax (the end of a step) to the last.
    ends = [i for i, r in enumerate(rows) if "argmax" in r.get("Kernel Name", "")]
    if len(ends) >= 2:
        rows = rows[ends[0] + 1 : ends[-1] + 1]
    steps = 0
    for r in rows:
        ns = num(r["gpu__time_duration.sum"])
        name = r.get("Kernel Name", "?").replace("(anonymous namespace)::", "")
        name = name.replace("unnamed>::", "")
        name = name.replace("hh::cuda::", "").replace("void ", "").replace("__nv_", "")
        name = name[: name.index(">(") + 1] if ">(" in name else name.split("(")[0]
        key = (name[:70], r.get("Grid Size", ""), r.get("Block Size", ""))
        g = groups[key]
        g[0] += 1
        g[1] += ns
        try:
            g[2] += num(r.get("dram__bytes_read.sum", "0"))
        except ValueError:
            pass
        if "argmax" in name:
            steps += 1
    steps = max(steps, 1)
    total = sum(g[1] for g in groups.values()) / steps
    print(f"{path}: {steps} steps, kernel time per step {total / 1e3:.1f} us")
    print(f"| kernel | grid | block | per step | us each | us per step | % | GB/s read |")
    print("|---|---|---|---|---|---|---|---|")
    for key, (n, ns, b) in sorted(groups.items(), key=lambda kv: -kv[1][1]):
        print(f"| {key[0]} | {key[1]} | {key[2]} | {n / steps:.0f} | {ns / n / 1e3:.2f} | "
              f"{ns / steps / 1e3:.1f} | {100 * ns / steps / total:.0f}% | {b / ns:.0f} |")


if __name__ == "__main__":
    main(sys.argv[1])

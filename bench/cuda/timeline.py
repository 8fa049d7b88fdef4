#!/usr/bin/env python3
"""Summarises a decode timeline (HH_CUDA_TRACE=FILE, src/engine/cuda/decode_trace.h): for each
kind of launch, averaged over layers and steps, where its time goes relative to the end of the
launch before it ("prev end": when that launch's last block left).

  span      prev end -> this launch's last block leaves (the time it adds to the step)
  lead      how long before prev end its first block had started (blocks launched early)
  late      prev end -> its last block starts (a block that had to wait for room)
  released  prev end -> the first / the last of its blocks is past the dependency wait
  after     the last wait over -> the last block leaves (the work left after the wait)

usage: timeline.py FILE [--skip-steps N]   (the first N positions of each generation are left
out, default 4)."""
import csv
import statistics
import sys
from collections import defaultdict

KINDS = ["QKV", "attention", "output proj", "gate/up", "down"]


def main():
    args = sys.argv[1:]
    if not args:
        sys.exit(__doc__)
    path = args[0]
    skip = int(args[args.index("--skip-steps") + 1]) if "--skip-steps" in args else 4
    launches = {}
    times = set()
    with open(path) as f:
        for r in csv.DictReader(f):
            key = (int(r["gen"]), int(r["step"]), int(r["launch"]))
            start, waited, end = int(r["start"]), int(r["waited"]), int(r["end"])
            times.add(start)
            g = launches.get(key)
            if g is None:
                launches[key] = [start, start, waited, waited, end, 1]
            else:
                g[0] = min(g[0], start)
                g[1] = max(g[1], start)
                g[2] = min(g[2], waited)
                g[3] = max(g[3], waited)
                g[4] = max(g[4], end)
                g[5] += 1
    if not launches:
        sys.exit(f"{path}: no records")
    last = max(k[2] for k in launches)
    first_step = defaultdict(lambda: 10**9)
    for gen, step, _ in launches:
        first_step[gen] = min(first_step[gen], step)
    rows = defaultdict(list)
    step_times = []
    for (gen, step, launch), g in launches.items():
        if step < first_step[gen] + skip:
            continue
        prev = launches.get((gen, step, launch - 1))
        if launch == last:
            nxt = launches.get((gen, step + 1, last))
            if nxt is not None:
                step_times.append(nxt[4] - g[4])
        if prev is None:
            continue
        pend = prev[4]
        kind = "output matrix" if launch == last else KINDS[(launch - 1) % 5]
        rows[kind].append((g[4] - pend, pend - g[0], g[1] - pend, g[2] - pend, g[3] - pend,
                           g[4] - g[3], g[5]))
    ordered = sorted(times)
    steps = [b - a for a, b in zip(ordered, ordered[1:]) if b > a]
    print(f"{path}: {len(launches)} launches; smallest step between block start times "
          f"{min(steps) if steps else 0} ns (the timer's resolution, at most)")
    if step_times:
        print(f"decode step (output matrix to output matrix): mean {statistics.mean(step_times) / 1e3:.1f} us "
              f"over {len(step_times)} steps")
    print(f"{'launch':<14} {'n':>6} {'blocks':>6} {'span':>7} {'lead':>7} {'late':>7} "
          f"{'rel.1st':>7} {'rel.last':>8} {'after':>7}   (us, means)")
    for kind in KINDS + ["output matrix"]:
        r = rows.get(kind)
        if not r:
            continue
        m = [statistics.mean(x[i] for x in r) / 1e3 for i in range(6)]
        blocks = statistics.mean(x[6] for x in r)
        print(f"{kind:<14} {len(r):>6} {blocks:>6.0f} {m[0]:>7.2f} {m[1]:>7.2f} {m[2]:>7.2f} "
              f"{m[3]:>7.2f} {m[4]:>8.2f} {m[5]:>7.2f}")


if __name__ == "__main__":
    main()

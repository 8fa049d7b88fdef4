#!/usr/bin/env python3
"""Times `restore` of a captured 0.6B `gen` input into a CUDA server (values land in GPU memory).

Usage: restore_timing.py HEDGEHOG MODEL.gguf DTYPE WORKDIR
Makes the capture with one server (load, init 28 8 640 128, store), then starts a fresh server and
times `restore` of the whole file (wall clock around the command; the file is in the page cache
after the first pass, so the second and third restores show the copy to the device alone).
"""
import os
import struct
import subprocess
import sys
import time

hedgehog, model, dtype, work = sys.argv[1:5]


def server():
    p = subprocess.Popen([hedgehog, "server", "--backend", "cuda", "--dtype", dtype],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    read(p)
    return p


def read(p):
    lines = []
    while True:
        line = p.stdout.readline()
        if not line:
            raise SystemExit("server died")
        if line.startswith("%%% OK"):
            return lines
        lines.append(line.rstrip())


def cmd(p, line):
    p.stdin.write(line + "\n")
    p.stdin.flush()
    out = read(p)
    if out and out[0].startswith("%%% FAILURE"):
        raise SystemExit(f"{line}: {out}")
    return out


def i64(v):
    return b"b" + bytes([2, 0]) + b" i64" + struct.pack("<q", v)


path = model.encode()
args = (b"b" + bytes([2, 1]) + b"  u8" + struct.pack("<q", len(path)) + path +
        b"".join(i64(v) for v in (28, 8, 640, 128, 0)) +
        b"b" + bytes([2, 1]) + b" i64" + struct.pack("<q", 4) + struct.pack("<4q", 1, 2, 3, 4) +
        i64(-1) + i64(128))
open(f"{work}/args.in", "wb").write(args)
p = server()
cmd(p, f"restore {work}/args.in path []u8 b i64 kvh i64 cs i64 dh i64 xsat i64 xs []i64 eos i64 n i64")
cmd(p, "call load params path")
cmd(p, "call init c b kvh cs dh")
cmd(p, f"store {work}/capture.in xsat xs params c eos n")
p.stdin.close()
p.wait()
size = os.path.getsize(f"{work}/capture.in")
for attempt in range(3):
    p = server()
    t0 = time.perf_counter()
    cmd(p, f"restore {work}/capture.in xsat i64 xs []i64 params Params c Cache eos i64 n i64")
    dt = time.perf_counter() - t0
    out = cmd(p, "call gen r xsat xs params c eos n")
    print(f"{dtype}: restore of {size / 1e9:.2f} GB capture: {dt:.3f} s "
          f"({size / dt / 1e9:.1f} GB/s); gen after it: {out[0]}", flush=True)
    p.stdin.close()
    p.wait()

#!/usr/bin/env python3
"""One line of decode tokens/s per dtype from a Google Benchmark JSON file of BM_Cuda0p6BDecode
runs (run_device.sh's variants step)."""
import json
import sys

names = {"0": "f32", "1": "f16", "2": "bf16"}
data = json.load(open(sys.argv[1]))
print(" ".join(f"{names.get(b['name'].split('/')[1], '?')} {b.get('tok/s', 0):.0f}"
               for b in data["benchmarks"]))

#!/usr/bin/env bash
# hedgehog's CPU engine next to llama.cpp (the peer) on the same Qwen3-0.6B-shaped GGUF files:
# decode (1 prompt token, 128 new) and prefill of 512 tokens, tokens/s, with the ratio.
#
# Usage:  bash bench/cpu_peers.sh [BUILD_DIR]        (BUILD_DIR defaults to build/, needs hh_bench)
#   PEERS=/work/shared/peers     the peer scripts (setup.sh, cpu_anchor.sh, make_qwen3_gguf.py)
#   PEERS_HOME=/tmp/hh-peers     where they keep llama.cpp, its build and the models
#   DTYPES="f16 bf16 f32"  THREADS=2  REPS=3
#   SKIP_PEER=1                  reuse the llama-bench results of an earlier run
# The first run builds llama-bench (about 8 minutes of both cores); later runs reuse the build.
# Run it on an otherwise idle machine: both programs are bound by memory bandwidth and cores.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
BUILD=${1:-$ROOT/build}
PEERS=${PEERS:-/work/shared/peers}
export PEERS_HOME=${PEERS_HOME:-/tmp/hh-peers}
DTYPES=${DTYPES:-"f16 bf16 f32"}
THREADS=${THREADS:-2}
REPS=${REPS:-3}
WORK=$PEERS_HOME/work
MODELS=$WORK/models
OUT=$WORK/hh_results
mkdir -p "$OUT"
[ -x "$BUILD/hh_bench" ] || { echo "no $BUILD/hh_bench: build it first (ninja -C $BUILD hh_bench)" >&2; exit 2; }

if [ "${SKIP_PEER:-0}" != 1 ]; then
  bash "$PEERS/setup.sh"
  # The anchor builds llama-bench once, writes the models (f32/f16/bf16 from the same seed) and
  # runs llama-bench -t THREADS -p 512 -n 128 -r REPS on each.
  DTYPES="$DTYPES" THREADS="$THREADS" REPS="$REPS" bash "$PEERS/cpu_anchor.sh"
fi

for dt in $DTYPES; do
  model=$MODELS/qwen3-0.6b-$dt.gguf
  [ -f "$model" ] || { echo "missing $model (run without SKIP_PEER=1)" >&2; exit 2; }
  echo "hedgehog $dt: $(cut -d' ' -f1-3 /proc/loadavg) load"
  HH_BENCH_MODEL=$model HH_BENCH_DTYPE=$dt HH_BENCH_THREADS=$THREADS \
    "$BUILD/hh_bench" --benchmark_filter='^BM_(Gen|Prefill)0p6B' --benchmark_repetitions="$REPS" \
    --benchmark_report_aggregates_only=false --benchmark_format=json > "$OUT/hh_$dt.json"
done

/usr/bin/python3 - "$WORK/cpu_results/bench.jsonl" "$OUT" $DTYPES <<'PY'
import json, os, statistics, sys
peer_file, out, dtypes = sys.argv[1], sys.argv[2], sys.argv[3:]
peer = {}
if os.path.exists(peer_file):
    for line in open(peer_file):
        if not line.startswith("{"):
            continue
        r = json.loads(line)
        name = os.path.basename(r.get("model_filename", "")) or r.get("model_type", "")
        dt = next((d for d in dtypes if f"-{d}." in name or name.lower().endswith(d)), None)
        if dt is None:
            continue
        test = "pp512" if r.get("n_prompt") else "tg128"
        peer[(dt, test)] = r["avg_ts"]
ours = {}
for dt in dtypes:
    data = json.load(open(os.path.join(out, f"hh_{dt}.json")))
    runs = {}
    for b in data["benchmarks"]:
        if b.get("run_type") == "aggregate" or "error_occurred" in b:
            continue
        if b["name"].startswith("BM_Gen0p6B"):
            runs.setdefault("tg128", []).append(b["tokens/s"])
        elif b["name"].startswith("BM_Prefill0p6B/512"):
            runs.setdefault("pp512", []).append(b["tokens/s"])
    for test, values in runs.items():
        ours[(dt, test)] = statistics.median(values)
print("| dtype | test | llama.cpp t/s | hedgehog t/s | ratio |")
print("|---|---|---|---|---|")
for dt in dtypes:
    for test in ("tg128", "pp512"):
        p, o = peer.get((dt, test)), ours.get((dt, test))
        ratio = f"{o / p:.2f}" if p and o else "-"
        print(f"| {dt} | {test} | {p:.1f} | {o:.1f} | {ratio} |" if p and o else
              f"| {dt} | {test} | {p or '-'} | {o or '-'} | {ratio} |")
PY

#!/usr/bin/env bash
# The CUDA backend on a GPU machine in one go: build (or take prebuilt binaries), correctness
# checks, compute-sanitizer, and decode / prefill timings at Qwen3-0.6B shape; prints a short
# table last and writes full logs to $OUT (default /tmp/hh-cuda-out).
#
#   bash bench/cuda/run_device.sh                          build with the cuda preset here
#   CARRY=.cuda-carry bash bench/cuda/run_device.sh        use binaries from bench/cuda/pack.sh
#   PEER_RESULTS=FILE   llama-bench results of the same call (peers' gpu_anchor.sh), appended
#   STEPS="tests sanitizer bench kernels variants timeline"   which parts to run (kernels:
#                       per-kernel times of two host-driven decode steps per dtype under Nsight
#                       Compute; variants: decode tokens/s under each setting of VARIANTS;
#                       timeline: where the decode steps' time goes, from HH_CUDA_TRACE records
#                       of the graph-driven steps, bench/cuda/timeline.py)
#   KERNEL_DTYPES="2"   dtypes of the kernels and timeline steps (0 f32, 1 f16, 2 bf16; default
#                       all)
#   VARIANTS="NAME:VAR=VALUE,VAR=VALUE ..."   environment settings compared by `variants`
#                       (e.g. "no-pdl:HH_CUDA_PDL=0"), each next to the defaults
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
OUT=${OUT:-/tmp/hh-cuda-out}
STEPS=${STEPS:-"tests sanitizer bench"}
MODELS=${MODELS:-/tmp/hh-cuda-models}
mkdir -p "$OUT" "$MODELS"
export NCCL_NVLS_ENABLE=0
nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm,clocks.max.mem \
  --format=csv > "$OUT/gpu.txt" 2>&1
cat "$OUT/gpu.txt"

if [ -n "${CARRY:-}" ]; then
  BIN=$(cd "$CARRY" && pwd)
  if [ -f "$BIN/bundle.tar.xz" ]; then
    mkdir -p /tmp/hh-cuda-bin && tar -C /tmp/hh-cuda-bin -xJf "$BIN/bundle.tar.xz" && BIN=/tmp/hh-cuda-bin
  fi
  export LD_LIBRARY_PATH=$BIN/lib:/usr/local/cuda/lib64:${LD_LIBRARY_PATH:-}
else
  cmake --preset cuda > "$OUT/configure.log" 2>&1 || { tail -30 "$OUT/configure.log"; exit 1; }
  cmake --build --preset cuda --target hedgehog hh_tests hh_bench > "$OUT/build.log" 2>&1 ||
    { tail -40 "$OUT/build.log"; exit 1; }
  BIN=$ROOT/build-cuda
fi

# Random-weight models of Qwen3-0.6B's shape, one per dtype.
for d in f32 f16 bf16; do
  [ -f "$MODELS/qwen3-0.6b-$d.gguf" ] ||
    "$BIN/hedgehog" make-model --preset 0.6b --dtype "$d" --seed 1 -o "$MODELS/qwen3-0.6b-$d.gguf" \
      >> "$MODELS/models.log" 2>&1 || { echo "make-model failed:"; tail -5 "$MODELS/models.log"; }
done

status=0
case " $STEPS " in *" tests "*)
  echo "== tests (CUDA kernels and backend, reference fixtures, 0.6B GPU vs CPU)"
  HH_CUDA_06B_DIR=$MODELS "$BIN/hh_tests" --gtest_filter='*Cuda*' > "$OUT/tests.log" 2>&1 ||
    status=1
  grep -E '^\[  (PASSED|FAILED) |^\[  FAILED  \]|worst relative|tests ran' "$OUT/tests.log"
  grep -B5 'Failure' "$OUT/tests.log" | head -60
esac

case " $STEPS " in *" sanitizer "*)
  echo "== compute-sanitizer memcheck (short runs)"
  if command -v compute-sanitizer > /dev/null; then
    timeout 300 compute-sanitizer --tool memcheck --leak-check no --error-exitcode 3 "$BIN/hh_tests" \
      --gtest_filter='*/CudaKernels.*:CudaPick.*:CudaSplitBf16.*:*/CudaBackendTest.StoppingRulesOfGen/bf16:*/CudaBackendTest.SampleMatchesTheCpuSampler/f32:*/CudaBackendTest.HostDrivenDecodeEqualsTheGraph/f16:*/CudaBackendTest.F32PrefillSplitAndPlainMatchTheCpu/f32:*/CudaBackendTest.DecodeTimeline*/bf16' \
      > "$OUT/memcheck.log" 2>&1 && echo "memcheck: clean" || { echo "memcheck: ERRORS"; status=1; }
    grep -E 'ERROR SUMMARY|Invalid|out of bounds|^\[  (PASSED|FAILED) |tests ran' "$OUT/memcheck.log" | head -20
  else
    echo "no compute-sanitizer on this machine"
  fi
esac

case " $STEPS " in *" timeline "*)
  echo "== decode timeline (graph, steps at positions 64-67 of the first 3 generations)"
  for i in ${KERNEL_DTYPES:-0 1 2}; do
    for v in default: ${VARIANTS:-}; do
      name=${v%%:*}
      settings=${v#*:}
      rm -f "$OUT/timeline_$i.csv"
      # shellcheck disable=SC2046
      env $(echo "$settings" | tr ',' ' ') HH_CUDA_TRACE="$OUT/timeline_$i.csv" \
        HH_CUDA_TRACE_STEPS=64:68 HH_CUDA_TRACE_GENS=3 HH_CUDA_BENCH_MODELS=$MODELS timeout 120 \
        "$BIN/hh_bench" --benchmark_filter="Cuda0p6BDecode/$i/" > "$OUT/timeline_$i.log" 2>&1 ||
        status=1
      echo "-- dtype $i, $name ($settings)"
      python3 "$ROOT/bench/cuda/timeline.py" "$OUT/timeline_$i.csv" --skip-steps 0 ||
        tail -5 "$OUT/timeline_$i.log"
      rm -f "$OUT/timeline_$i.csv"
    done
  done
esac

case " $STEPS " in *" kernels "*)
  echo "== per-kernel decode times (ncu, host-driven steps, kernels in isolation)"
  if command -v ncu > /dev/null; then
    for i in ${KERNEL_DTYPES:-0 1 2}; do
      # Skip the warm-up generation's first steps; profile at least two whole steps (143 kernels
      # each at 0.6B; kernel_table.py keeps the steps between argmax launches).
      HH_CUDA_DECODE=host HH_CUDA_BENCH_MODELS=$MODELS timeout 240 ncu --cache-control none \
        --clock-control none --launch-skip 3420 --launch-count 342 --csv --page raw \
        --metrics gpu__time_duration.sum,dram__bytes_read.sum \
        "$BIN/hh_bench" --benchmark_filter="Cuda0p6BDecode/$i/" > "$OUT/ncu_$i.csv" 2> "$OUT/ncu_$i.err"
      python3 "$ROOT/bench/cuda/kernel_table.py" "$OUT/ncu_$i.csv" || tail -5 "$OUT/ncu_$i.err"
    done
    # Prefill of 512 tokens (about 480 kernels a generation): bf16 and f32; 1100 launches hold
    # one whole generation between two argmax launches.
    for i in 0 2; do
      HH_CUDA_BENCH_MODELS=$MODELS timeout 240 ncu --cache-control none --clock-control none \
        --launch-skip 800 --launch-count 1100 --csv --page raw \
        --metrics gpu__time_duration.sum,dram__bytes_read.sum \
        "$BIN/hh_bench" --benchmark_filter="Cuda0p6BPrefill/$i/" > "$OUT/ncu_prefill_$i.csv" \
        2> "$OUT/ncu_prefill_$i.err"
      python3 "$ROOT/bench/cuda/kernel_table.py" "$OUT/ncu_prefill_$i.csv" ||
        tail -5 "$OUT/ncu_prefill_$i.err"
    done
  else
    echo "no ncu on this machine"
  fi
esac

case " $STEPS " in *" variants "*)
  echo "== decode tokens/s (graph) under each variant, defaults first and last"
  for v in default: ${VARIANTS:-} default:; do
    name=${v%%:*}
    settings=${v#*:}
    # A time limit each, so that a variant that hangs costs a minute and a half, not the call.
    # shellcheck disable=SC2046
    env $(echo "$settings" | tr ',' ' ') HH_CUDA_BENCH_MODELS=$MODELS timeout 90 "$BIN/hh_bench" \
      --benchmark_filter='Cuda0p6BDecode' \
      --benchmark_out="$OUT/variant.json" --benchmark_out_format=json > /dev/null 2>&1 ||
      status=1
    echo "$name ($settings): $(python3 "$ROOT/bench/cuda/variant_line.py" "$OUT/variant.json" 2>&1)"
    rm -f "$OUT/variant.json"
  done
esac

case " $STEPS " in *" bench "*)
  echo "== timings"
  HH_CUDA_BENCH_MODELS=$MODELS "$BIN/hh_bench" --benchmark_filter='Cuda' \
    --benchmark_out="$OUT/bench.json" --benchmark_out_format=json > "$OUT/bench.log" 2>&1 || status=1
  HH_CUDA_DECODE=host HH_CUDA_BENCH_MODELS=$MODELS "$BIN/hh_bench" \
    --benchmark_filter='Cuda0p6BDecode' --benchmark_out="$OUT/bench_host.json" \
    --benchmark_out_format=json > "$OUT/bench_host.log" 2>&1 || status=1
  python3 - "$OUT/bench.json" "$OUT/bench_host.json" <<'PY'
import json, sys
runs = {}
for path, mode in ((sys.argv[1], "graph"), (sys.argv[2], "host")):
    try:
        data = json.load(open(path))
    except Exception as e:
        print(f"{path}: {e}"); continue
    for b in data["benchmarks"]:
        runs[(b["name"], mode)] = b
copy = next((b for (n, m), b in runs.items() if n.startswith("BM_CudaCopy")), None)
bw = copy["GB/s"] if copy else float("nan")
print(f"device copy bandwidth (read+write): {bw:.0f} GB/s")
names = {0: "f32", 1: "f16", 2: "bf16"}
print(f"| dtype | decode t/s (graph) | decode t/s (host loop) | GB/token | % of bound | prefill 512 t/s |")
print(f"|---|---|---|---|---|---|")
def find(prefix, mode):
    # Names carry the run options: BM_Cuda0p6BDecode/2/min_time:2.000/real_time.
    return next((b for (n, m), b in runs.items() if m == mode and n.startswith(prefix)), {})
for i, d in names.items():
    g = find(f"BM_Cuda0p6BDecode/{i}/", "graph")
    h = find(f"BM_Cuda0p6BDecode/{i}/", "host")
    p = find(f"BM_Cuda0p6BPrefill/{i}/", "graph")
    gb = g.get("GB/token", float("nan"))
    bound = bw / gb if gb == gb and gb > 0 else float("nan")
    tg = g.get("tok/s", float("nan"))
    print(f"| {d} | {tg:.0f} | {h.get('tok/s', float('nan')):.0f} | {gb:.3f} | "
          f"{100 * tg / bound:.0f}% of {bound:.0f} | {p.get('tok/s', float('nan')):.0f} |")
PY
  if [ -n "${PEER_RESULTS:-}" ] && [ -f "$PEER_RESULTS" ]; then
    echo "== llama.cpp in the same call"; cat "$PEER_RESULTS"
  fi
esac
exit $status

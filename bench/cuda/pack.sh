#!/usr/bin/env bash
# Packs prebuilt CUDA binaries for a GPU machine that lacks hedgehog's build dependencies (the
# lent device machines have CUDA, CMake and ninja but no fmt, CLI11, pcre2, utf8proc, OpenBLAS,
# GoogleTest or Google Benchmark, and no network): builds hedgehog, hh_tests and hh_bench in
# BUILD_DIR (default build-cuda, configured with -DHH_CUDA=ON) and copies them with the shared
# libraries they need beyond the C library and the CUDA driver into .cuda-carry/ (git-excluded).
# SKIP_BUILD=1 packs what BUILD_DIR already holds. Then, on the GPU machine:
#   CARRY=.cuda-carry bash bench/cuda/run_device.sh
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${1:-$ROOT/build-cuda}
DEST=$ROOT/.cuda-carry
[ -f "$BUILD/build.ninja" ] || cmake -S "$ROOT" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DHH_CUDA=ON
[ "${SKIP_BUILD:-0}" = 1 ] || ninja -C "$BUILD" hedgehog hh_tests hh_bench
grep -qx '/.cuda-carry/' "$ROOT/.git/info/exclude" 2>/dev/null || echo '/.cuda-carry/' >> "$ROOT/.git/info/exclude"
rm -rf "$DEST"
mkdir -p "$DEST/lib"
for b in hedgehog hh_tests hh_bench; do
  cp "$BUILD/$b" "$DEST/"
  strip --strip-debug "$DEST/$b"
done
# Libraries the binaries load, except the C runtime, the CUDA driver and the CUDA toolkit's own
# (cuBLAS is on the GPU machine, in the same CUDA version).
for b in hedgehog hh_tests hh_bench; do ldd "$DEST/$b"; done |
  awk '/=> \// {print $3}' | sort -u |
  grep -Ev '/(libc|libm|libdl|librt|libpthread|ld-linux[^/]*|libcuda|libcublas|libcublasLt|libcudart)\.so' |
  while read -r lib; do cp -L "$lib" "$DEST/lib/"; done
# The lent machines take at most 64 MiB of working tree: ship one compressed bundle.
tar -C "$DEST" -cf - hedgehog hh_tests hh_bench lib | xz -T0 -6 > "$ROOT/bundle.tar.xz"
rm -rf "$DEST"
mkdir -p "$DEST"
mv "$ROOT/bundle.tar.xz" "$DEST/"
du -sh "$DEST"

#!/usr/bin/env bash
# Sets up, builds from scratch where needed, and runs every test: the release build's suite,
# the same suite under AddressSanitizer + UndefinedBehaviorSanitizer, and a short run of each
# libFuzzer target over its seed corpus.
set -euo pipefail
cd "$(dirname "$0")/.."
# Each phase says how long it took, so a slow CI run shows where the time went.
phase() { echo "== $1 (at ${SECONDS}s)"; }
scripts/setup.sh
# The profile tool's HTML page is checked in headless Chromium.
if ! command -v chromium >/dev/null; then
  echo "test: installing chromium (profile page tests)"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null
fi

phase "release tests"
ctest --preset release -j2

phase "asan-ubsan build and tests"
cmake --preset asan-ubsan >/dev/null
cmake --build --preset asan-ubsan
ctest --preset asan-ubsan -j2

if command -v nvcc >/dev/null || [ -x /usr/local/cuda/bin/nvcc ]; then
  phase "cuda build (compile and link only; no GPU here)"
  cmake --preset cuda >/dev/null
  cmake --build --preset cuda --target hedgehog
fi

phase "fuzz targets (short runs)"
cmake --preset fuzz >/dev/null
cmake --build --preset fuzz --target $(basename -s .cpp fuzz/*_fuzz.cpp)
for target in build-fuzz/*_fuzz; do
  [ -x "$target" ] || continue
  name=$(basename "$target")
  corpus="fuzz/corpus/${name%_fuzz}"
  work=$(mktemp -d)
  [ -d "$corpus" ] && cp -r "$corpus"/. "$work"/
  "$target" -max_total_time="${HH_FUZZ_SECONDS:-20}" -rss_limit_mb=2048 -timeout=10 \
    "$work" >"$work.log" 2>&1 || { tail -50 "$work.log"; echo "fuzz target $name failed"; exit 1; }
  echo "$name: $(grep -Eo 'stat::number_of_executed_units: [0-9]+|Done [0-9]+ runs' "$work.log" | tail -1)"
  rm -rf "$work" "$work.log"
done
echo "all tests passed in ${SECONDS}s"

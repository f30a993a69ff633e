#!/usr/bin/env bash
# Quick start: installs dependencies, builds, and runs the main job on the embedded default
# model (codex-spark-mini with synthetic weights, synthesized once into the cache).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh build
model="$(build/harness/sparkbench model path --preset codex-spark-mini)"
build/harness/sparkbench model info "$model"
build/harness/sparkbench generate --preset codex-spark-mini -p "def fibonacci(n):" -n 32

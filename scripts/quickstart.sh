#!/usr/bin/env bash
# Quick start: installs dependencies, builds, and runs the main job on the embedded default
# model (codex-spark-mini with synthetic weights, synthesized once into the cache).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh build
# The main job: every bundled suite (first 20 items each) on the default model; results and
# per-sample rows go to ./sparkbench.db. Drop --limit for the full suites.
build/harness/sparkbench run --limit 20

#!/usr/bin/env bash
# Installs the Debian 12 packages sparkbench needs to build, test and run. Idempotent: it only
# calls apt-get when something is missing, so running it again costs a few dpkg queries.
# Usage: scripts/setup.sh   (must run as root, or with sudo available)
set -euo pipefail

pkgs=(
  build-essential cmake ninja-build pkg-config git ca-certificates
  libdnnl-dev libsqlite3-dev sqlite3 libcli11-dev catch2 libbenchmark-dev nlohmann-json3-dev
  libpcre2-dev libssl-dev zlib1g-dev bubblewrap python3
  # --chat: models' chat templates are rendered by real Jinja2 (evals/chat_template.h)
  python3-jinja2
  # serve, loadgen, run --api: the HTTP server and client library (server/http_server.h, evals/http_client.h)
  libcpp-httplib-dev
  # MPI scale-out of run/bench (SPARKBENCH_MPI=AUTO finds it; mpirun for the [mpi] tests)
  libopenmpi-dev openmpi-bin
  # `sparkbench report` screenshot test (headless Chromium renders the HTML report; skipped without it)
  chromium fonts-dejavu-core
  # scripts/fuzz.sh: libFuzzer targets built with clang under ASan + UBSan
  clang-14 libfuzzer-14-dev
)

missing=()
for p in "${pkgs[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if ((${#missing[@]} == 0)); then
  echo "setup: all ${#pkgs[@]} packages present"
  exit 0
fi

SUDO=""
if [[ $(id -u) -ne 0 ]]; then
  command -v sudo >/dev/null || { echo "setup: need root (or sudo) to install: ${missing[*]}" >&2; exit 1; }
  SUDO="sudo"
fi
echo "setup: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"

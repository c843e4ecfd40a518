#!/usr/bin/env bash
# Installs the Debian packages dfsim needs (only those missing; `apt-get update` at most once)
# and builds dfsim in Release mode into build/. Idempotent: a second run installs nothing and
# rebuilds only what changed. `--packages-only` installs and builds nothing
# (scripts/test.sh --sanitize builds its own tree).
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(cmake g++ make pkg-config libsystemc-dev libboost-graph-dev libyaml-cpp-dev catch2
          libcli11-dev nlohmann-json3-dev libfmt-dev libbenchmark-dev gnuplot-nox)
missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" ||
    missing+=("$package")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  sudo_cmd=()
  [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq "${missing[@]}" >/dev/null
fi

[ "${1:-}" = "--packages-only" ] && exit 0

jobs=$(nproc 2>/dev/null || echo 2)
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$jobs"

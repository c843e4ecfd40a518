#!/usr/bin/env bash
# Installs the Debian packages dfsim needs (only those missing; `apt-get update` at most once)
# and builds dfsim in Release mode into build/. Idempotent: a second run installs nothing and
# rebuilds only what changed.
#   scripts/setup.sh                  every target (dfsim, the tests)
#   scripts/setup.sh dfsim ...        only the named CMake targets (scripts/demo.sh builds the
#                                     dfsim executable alone, scripts/test.sh the tests)
#   scripts/setup.sh --packages-only  installs and builds nothing (scripts/test.sh --sanitize
#                                     builds its own tree)
#   scripts/setup.sh -DNAME=VALUE     CMake options for the configure step, with or without
#                                     targets (scripts/test.sh passes -DDFSIM_WERROR=ON in CI)
set -euo pipefail
cd "$(dirname "$0")/.."

packages_only=0
targets=()
options=()
for arg in "$@"; do
  case "$arg" in
    --packages-only) packages_only=1 ;;
    -D*) options+=("$arg") ;;
    -*) echo "usage: scripts/setup.sh [--packages-only | -DNAME=VALUE... TARGET...]" >&2; exit 2 ;;
    *) targets+=("$arg") ;;
  esac
done

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

((packages_only)) && exit 0

jobs=$(nproc 2>/dev/null || echo 2)
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release "${options[@]}" >/dev/null
if ((${#targets[@]})); then
  cmake --build build -j"$jobs" --target "${targets[@]}"
else
  cmake --build build -j"$jobs"
fi

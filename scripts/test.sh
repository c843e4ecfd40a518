#!/usr/bin/env bash
# Sets up, builds, and runs every test; each Catch2 test case runs in its own process (ctest),
# since SystemC elaborates once per process.
#   scripts/test.sh             Release build in build/
#   scripts/test.sh --sanitize  the whole suite built with ASan + UBSan (and LeakSanitizer) in
#                               build-sanitize/: any report ends its process and fails the test.
#                               The executables carry their sanitizer options
#                               (sim/common/sanitizer_options.cpp), so a plain
#                               `ctest --test-dir build-sanitize` is the same run. Nothing is
#                               suppressed. Built at -O1; CI (.ci/run) runs both suites.
# With CI=true (as CI services set it) both builds turn compiler warnings into errors
# (DFSIM_WERROR), so a new warning fails CI; elsewhere a warning is printed and the build goes on.
set -euo pipefail
cd "$(dirname "$0")/.."
sanitize=0
for arg in "$@"; do
  case "$arg" in
    --sanitize) sanitize=1 ;;
    *) echo "usage: scripts/test.sh [--sanitize]" >&2; exit 2 ;;
  esac
done
export SYSTEMC_DISABLE_COPYRIGHT_MESSAGE=1
jobs=$(nproc 2>/dev/null || echo 2)
werror=OFF
[ "${CI:-}" = "true" ] && werror=ON
if ((sanitize)); then
  scripts/setup.sh --packages-only
  launcher=()
  command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
  cmake -S . -B build-sanitize -DCMAKE_BUILD_TYPE=Release -DDFSIM_SANITIZE=ON \
    -DDFSIM_WERROR="$werror" "${launcher[@]}" >/dev/null
  cmake --build build-sanitize -j"$jobs"
  ctest --test-dir build-sanitize --output-on-failure -j"$jobs"
else
  scripts/setup.sh -DDFSIM_WERROR="$werror"
  ctest --test-dir build --output-on-failure -j"$jobs"
fi

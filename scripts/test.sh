#!/usr/bin/env bash
# Sets up, builds, and runs every test; each Catch2 test case runs in its own process (ctest),
# since SystemC elaborates once per process.
#   scripts/test.sh             Release build in build/
#   scripts/test.sh --sanitize  the whole suite built with ASan + UBSan in build-sanitize/ (any
#                               report fails its test; scripts/sanitizer.supp lists what is
#                               suppressed in Debian's uninstrumented libraries, with reasons)
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
if ((sanitize)); then
  scripts/setup.sh --packages-only
  launcher=()
  command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
  cmake -S . -B build-sanitize -DCMAKE_BUILD_TYPE=Release -DDFSIM_SANITIZE=ON "${launcher[@]}" \
    >/dev/null
  cmake --build build-sanitize -j"$jobs"
  export ASAN_OPTIONS=detect_leaks=1:halt_on_error=1:detect_stack_use_after_return=0
  export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
  export LSAN_OPTIONS=suppressions=$PWD/scripts/sanitizer.supp:print_suppressions=0
  ctest --test-dir build-sanitize --output-on-failure -j"$jobs"
else
  scripts/setup.sh
  ctest --test-dir build --output-on-failure -j"$jobs"
fi

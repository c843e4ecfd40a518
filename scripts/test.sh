#!/usr/bin/env bash
# Sets up, builds, and runs every test; each Catch2 test case runs in its own process (ctest),
# since SystemC elaborates once per process.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
export SYSTEMC_DISABLE_COPYRIGHT_MESSAGE=1
jobs=$(nproc 2>/dev/null || echo 2)
ctest --test-dir build --output-on-failure -j"$jobs"

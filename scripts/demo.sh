#!/usr/bin/env bash
# Sets up, builds the dfsim executable (only it: the tests are scripts/test.sh's), and runs the
# main job on a default: 128 tokens of Llama 3.1 8B decode on an H100 SXM, starting from a
# 128-token context.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh dfsim >/dev/null
export SYSTEMC_DISABLE_COPYRIGHT_MESSAGE=1
build/dfsim run --model llama3.1-8b --hw h100-sxm --phase decode --context 128 --tokens 128 "$@"

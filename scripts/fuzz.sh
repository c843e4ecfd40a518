#!/usr/bin/env bash
# Builds the libFuzzer targets (clang, ASan + UBSan, DFSIM_FUZZ=ON) into build-fuzz/ and runs each
# for SECONDS (default 60) on one core, starting from the seeds in tests/fuzz/corpus/<target>/.
# New inputs go to build-fuzz/corpus/<target>/ (never into the repo); a crash, leak, timeout or
# out-of-memory input is kept in build-fuzz/findings/<target>/ and the script exits non-zero.
# The targets are the DFSIM_FUZZ_TARGETS list of CMakeLists.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}

if ! dpkg-query -W -f='${Status}' clang libclang-rt-dev 2>/dev/null | grep -q "install ok installed"; then
  echo "fuzz: installing clang libclang-rt-dev"
  sudo_cmd=()
  [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq clang libclang-rt-dev >/dev/null
fi

launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_COMPILER=clang++ -DDFSIM_FUZZ=ON \
  -DDFSIM_BUILD_TESTS=OFF -DDFSIM_BUILD_BENCHMARKS=OFF "${launcher[@]}" >/dev/null
cmake --build build-fuzz --target dfsim_fuzz -j"$(nproc 2>/dev/null || echo 2)"

# The file has no final newline, so read reports end of file: not an error here.
IFS=';' read -r -a targets < build-fuzz/fuzz_targets.txt || true
export ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=0
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
failed=()
printf '%-14s %12s %10s %s\n' target executions exec/s result
for target in "${targets[@]}"; do
  work=build-fuzz/corpus/$target findings=build-fuzz/findings/$target
  mkdir -p "$work" "$findings"
  log=build-fuzz/fuzz_$target.log
  status=0
  # -timeout: one input taking 10 s is a hang; -rss_limit_mb: a parser must not need 2 GB.
  build-fuzz/fuzz_"$target" "$work" "tests/fuzz/corpus/$target" -dict=tests/fuzz/dfsim.dict \
    -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=8192 \
    -artifact_prefix="$findings/" -print_final_stats=1 >"$log" 2>&1 || status=$?
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  result=ok
  if ((status != 0)); then
    result="FINDING (see $log, $findings/)"
    failed+=("$target")
  fi
  printf '%-14s %12s %10s %s\n' "$target" "${runs:-?}" "${rate:-?}" "$result"
done
if ((${#failed[@]})); then
  echo "fuzz: findings in ${failed[*]}" >&2
  exit 1
fi

// A sweep output file (.csv or .jsonl) as `--resume` and `dfsim merge` read it back.
#include "sim/engine/sweep_table.h"
#include "tests/fuzz/fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text = dfsim::fuzz::as_text(data, size);
  dfsim::fuzz::run([&] { dfsim::parse_sweep_text(text, "out.csv"); });
  return dfsim::fuzz::run([&] { dfsim::parse_sweep_text(text, "out.jsonl"); });
}

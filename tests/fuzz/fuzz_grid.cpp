// `dfsim sweep` expressions: `--grid key=SPEC`, `--set key=value`, `--shard K/N`, and the plan
// they build (checked phase values, point ids).
#include "sim/engine/sweep_spec.h"
#include "tests/fuzz/fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text = dfsim::fuzz::as_text(data, size);
  dfsim::fuzz::run([&] { dfsim::parse_shard(text); });
  dfsim::fuzz::run([&] { dfsim::parse_fixed(text); });
  return dfsim::fuzz::run([&] {
    std::vector<dfsim::SweepFactor> factors{
        dfsim::parse_name_list("model", "tiny-llama", "--model"),
        dfsim::parse_name_list("hw", "h100-sxm", "--hw"), dfsim::parse_grid(text)};
    dfsim::build_sweep_plan(factors, 100'000);
  });
}

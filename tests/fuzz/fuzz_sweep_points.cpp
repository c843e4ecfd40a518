// A `dfsim sweep --points` CSV table and the plan built from it.
#include "sim/engine/sweep_spec.h"
#include "tests/fuzz/fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  return dfsim::fuzz::run([&] {
    std::vector<dfsim::SweepFactor> factors{
        dfsim::parse_points_csv(dfsim::fuzz::as_text(data, size), "points.csv")};
    factors.push_back(dfsim::parse_fixed("looping=off"));
    dfsim::build_sweep_plan(factors, 100'000);
  });
}

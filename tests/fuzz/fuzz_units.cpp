// Quantities with units ("3.35 TB/s", "80 GiB") in every dimension, and their formatting.
#include "sim/common/units.h"
#include "tests/fuzz/fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text = dfsim::fuzz::as_text(data, size);
  using dfsim::Dimension;
  for (Dimension dimension : {Dimension::kBytes, Dimension::kBandwidth, Dimension::kFlopRate,
                              Dimension::kFrequency, Dimension::kDuration, Dimension::kCount}) {
    std::optional<double> value = dfsim::parse_quantity(text, dimension);
    if (!value) continue;
    dfsim::fuzz::require_finite(*value, "parse_quantity");
    // What a report prints for the value must read back as the same dimension.
    const std::string shown = dfsim::format_quantity(*value, dimension);
    if (!dfsim::parse_quantity(shown, dimension)) {
      std::fprintf(stderr, "format_quantity(%s) = '%s' does not parse\n", text.c_str(),
                   shown.c_str());
      std::abort();
    }
  }
  return 0;
}

// safetensors: the 8-byte little-endian header length, the JSON header and every tensor's byte
// range, as `--weights FILE.safetensors` reads them. The file size is the input's own, so ranges
// past the end are exercised as a truncated file.
#include "sim/functional/safetensors.h"
#include "tests/fuzz/fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  return dfsim::fuzz::run([&] {
    const std::string bytes = dfsim::fuzz::as_text(data, size);
    dfsim::functional::parse_safetensors_header(bytes, bytes.size(), "model.safetensors");
  });
}

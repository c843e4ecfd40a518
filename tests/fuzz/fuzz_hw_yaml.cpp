// Hardware YAML (hw_configs/*.yaml): YAML parsing, then the typed reader of every field.
#include "sim/config/config_tree.h"
#include "sim/config/hw_config.h"
#include "tests/fuzz/fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  return dfsim::fuzz::run([&] {
    dfsim::ConfigNode root = dfsim::parse_yaml(dfsim::fuzz::as_text(data, size), "hw.yaml");
    dfsim::parse_hw_config(root);
  });
}

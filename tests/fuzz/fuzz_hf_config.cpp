// Hugging Face config.json: JSON read as YAML, translated to a workload tree, then validated.
#include "sim/config/config_tree.h"
#include "sim/workload/hf_config.h"
#include "sim/workload/model_spec.h"
#include "tests/fuzz/fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  return dfsim::fuzz::run([&] {
    const std::string path = "config.json";
    dfsim::ConfigNode json = dfsim::parse_yaml(dfsim::fuzz::as_text(data, size), path);
    dfsim::parse_model_spec(dfsim::hf_config_to_tree(json, path));
  });
}

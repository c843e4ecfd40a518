// Workload YAML (workloads/*.yaml): YAML parsing, then the model spec with its validation.
#include "sim/config/config_tree.h"
#include "sim/workload/model_spec.h"
#include "tests/fuzz/fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  return dfsim::fuzz::run([&] {
    dfsim::ConfigNode root = dfsim::parse_yaml(dfsim::fuzz::as_text(data, size), "workload.yaml");
    dfsim::parse_model_spec(root);
  });
}

// `--set key=value` on the configs: the override is split, applied to a shipped hardware config
// and workload (parsed once), and the result validated as dfsim run would.
#include "sim/config/catalog.h"
#include "sim/config/config_tree.h"
#include "sim/config/hw_config.h"
#include "sim/workload/model_spec.h"
#include "tests/fuzz/fuzz_support.h"

namespace {

const dfsim::ConfigNode& base(dfsim::ConfigKind kind, const char* name) {
  static const auto load = [](dfsim::ConfigKind k, const char* n) {
    return dfsim::load_config_with_inherit(
        dfsim::locate_config(k, n), [k](const std::string& parent, const dfsim::SourceLocation&) {
          return dfsim::locate_config(k, parent);
        });
  };
  static const dfsim::ConfigNode hw = load(dfsim::ConfigKind::kHardware, "dgx-h100");
  static const dfsim::ConfigNode model = load(dfsim::ConfigKind::kWorkload, "mixtral-8x7b");
  (void)name;
  return kind == dfsim::ConfigKind::kHardware ? hw : model;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  return dfsim::fuzz::run([&] {
    const dfsim::SourceLocation where{"--set", 1, 1};
    dfsim::Override override = dfsim::parse_override(dfsim::fuzz::as_text(data, size));
    if (override.key.rfind("hw.", 0) == 0) {
      dfsim::ConfigNode tree = base(dfsim::ConfigKind::kHardware, "dgx-h100");
      dfsim::apply_override(tree, override.key.substr(3), override.value, where);
      dfsim::parse_hw_config(tree);
    } else if (override.key.rfind("model.", 0) == 0) {
      dfsim::ConfigNode tree = base(dfsim::ConfigKind::kWorkload, "mixtral-8x7b");
      dfsim::apply_override(tree, override.key.substr(6), override.value, where);
      dfsim::parse_model_spec(tree);
    } else {
      dfsim::check_override_prefixes({override});
    }
  });
}

#include <fmt/format.h>

#include <cstdio>
#include <memory>

#include "sim/cli/commands.h"
#include "sim/config/catalog.h"

namespace dfsim {

Action add_list_command(CLI::App& app) {
  auto what = std::make_shared<std::string>("all");
  CLI::App* cmd = app.add_subcommand("list", "List the hardware configs and workloads dfsim knows");
  cmd->add_option("what", *what, "hw, models or all (default)")
      ->check(CLI::IsMember({"hw", "models", "all"}));
  return [what] {
    auto print = [](const char* title, ConfigKind kind) {
      std::printf("%s (%s)\n", title, config_directory(kind).c_str());
      for (const CatalogEntry& entry : list_configs(kind)) {
        std::printf("%s", fmt::format("  {:<18}{}\n", entry.name, entry.description).c_str());
      }
    };
    if (*what != "models") print("Hardware", ConfigKind::kHardware);
    if (*what == "all") std::printf("\n");
    if (*what != "hw") print("Workloads", ConfigKind::kWorkload);
    return 0;
  };
}

}  // namespace dfsim

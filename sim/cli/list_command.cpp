#include <fmt/format.h>

#include <algorithm>
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
      const std::vector<CatalogEntry> entries = list_configs(kind);
      // Hugging Face configs are listed by file name, which can be long.
      std::size_t width = 16;
      for (const CatalogEntry& entry : entries) width = std::max(width, entry.name.size());
      for (const CatalogEntry& entry : entries) {
        std::printf("%s",
                    fmt::format("  {:<{}}  {}\n", entry.name, width, entry.description).c_str());
      }
    };
    if (*what != "models") print("Hardware", ConfigKind::kHardware);
    if (*what == "all") std::printf("\n");
    if (*what != "hw") print("Workloads", ConfigKind::kWorkload);
    return 0;
  };
}

}  // namespace dfsim

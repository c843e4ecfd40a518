#include "sim/config/catalog.h"

#include <algorithm>
#include <cstdlib>
#include <filesystem>

#include "sim/config/config_reader.h"

namespace dfsim {

namespace fs = std::filesystem;

namespace {

std::string_view prefix_of(ConfigKind kind) { return kind == ConfigKind::kHardware ? "hw." : "model."; }

std::vector<std::string> known_names(ConfigKind kind) {
  std::vector<std::string> names;
  std::error_code error;
  for (const auto& entry : fs::directory_iterator(config_directory(kind), error)) {
    if (entry.path().extension() == ".yaml") names.push_back(entry.path().stem().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

ConfigNode load_tree(ConfigKind kind, const std::string& name_or_path,
                     const std::vector<Override>& overrides) {
  std::string path = locate_config(kind, name_or_path);
  ConfigNode root = load_config_with_inherit(
      path, [kind](const std::string& name, const SourceLocation& where) {
        try {
          return locate_config(kind, name);
        } catch (const InputError& error) {
          throw InputError(where, "inherit", error.what());
        }
      });
  std::string_view prefix = prefix_of(kind);
  for (const Override& item : overrides) {
    if (item.key.rfind(prefix, 0) != 0) continue;
    SourceLocation where{"--set " + item.key + "=" + item.value, 0, 0};
    apply_override(root, std::string_view(item.key).substr(prefix.size()), item.value, where);
  }
  return root;
}

}  // namespace

std::string config_directory(ConfigKind kind) {
  const char* variable = kind == ConfigKind::kHardware ? "DFSIM_HW_DIR" : "DFSIM_WORKLOAD_DIR";
  if (const char* value = std::getenv(variable); value && *value) return value;
  return std::string(DFSIM_DATA_DIR) + (kind == ConfigKind::kHardware ? "/hw_configs" : "/workloads");
}

std::string locate_config(ConfigKind kind, const std::string& name_or_path) {
  bool is_path = name_or_path.find('/') != std::string::npos ||
                 (name_or_path.size() > 5 &&
                  name_or_path.compare(name_or_path.size() - 5, 5, ".yaml") == 0);
  if (is_path) {
    if (!fs::is_regular_file(name_or_path)) {
      throw InputError(SourceLocation{name_or_path}, "", "no such file");
    }
    return name_or_path;
  }
  fs::path candidate = fs::path(config_directory(kind)) / (name_or_path + ".yaml");
  if (fs::is_regular_file(candidate)) return candidate.string();
  std::string known;
  for (const std::string& name : known_names(kind)) known += (known.empty() ? "" : ", ") + name;
  throw InputError(std::string(kind == ConfigKind::kHardware ? "unknown hardware '" : "unknown model '") +
                   name_or_path + "' (known: " + known + "; or give a path to a .yaml file)");
}

Override parse_override(const std::string& text) {
  size_t equals = text.find('=');
  if (equals == std::string::npos || equals == 0) {
    throw InputError("--set " + text + ": expected key=value, e.g. hw.hbm.bandwidth=2TB/s");
  }
  return {text.substr(0, equals), text.substr(equals + 1)};
}

void check_override_prefixes(const std::vector<Override>& overrides) {
  for (const Override& item : overrides) {
    if (item.key.rfind("hw.", 0) != 0 && item.key.rfind("model.", 0) != 0) {
      throw InputError("--set " + item.key + "=" + item.value +
                       ": key must start with 'hw.' or 'model.'");
    }
  }
}

HwConfig load_hw_config(const std::string& name_or_path, const std::vector<Override>& overrides) {
  return parse_hw_config(load_tree(ConfigKind::kHardware, name_or_path, overrides));
}

ModelSpec load_model_spec(const std::string& name_or_path, const std::vector<Override>& overrides) {
  return parse_model_spec(load_tree(ConfigKind::kWorkload, name_or_path, overrides));
}

std::vector<CatalogEntry> list_configs(ConfigKind kind) {
  std::vector<CatalogEntry> entries;
  for (const std::string& name : known_names(kind)) {
    std::string path = locate_config(kind, name);
    if (kind == ConfigKind::kHardware) {
      HwConfig hw = load_hw_config(path, {});
      entries.push_back({name, hw.description, path});
    } else {
      ModelSpec model = load_model_spec(path, {});
      entries.push_back({name, model.description, path});
    }
  }
  return entries;
}

}  // namespace dfsim

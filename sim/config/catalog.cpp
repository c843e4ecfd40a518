#include "sim/config/catalog.h"

#include <algorithm>
#include <cstdlib>
#include <filesystem>

#include "sim/config/config_reader.h"
#include "sim/workload/hf_config.h"

namespace dfsim {

namespace fs = std::filesystem;

namespace {

std::string_view prefix_of(ConfigKind kind) { return kind == ConfigKind::kHardware ? "hw." : "model."; }

bool ends_with(const std::string& text, std::string_view suffix) {
  return text.size() > suffix.size() &&
         text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// YAML configs by stem; workloads also as Hugging Face configs, by file name
// ("mixtral-8x7b.config.json"), since a YAML of the same model may sit beside them.
std::vector<std::string> known_names(ConfigKind kind) {
  std::vector<std::string> names;
  std::error_code error;
  for (const auto& entry : fs::directory_iterator(config_directory(kind), error)) {
    const std::string file = entry.path().filename().string();
    if (entry.path().extension() == ".yaml") names.push_back(entry.path().stem().string());
    if (kind == ConfigKind::kWorkload && is_hf_config_path(file)) names.push_back(file);
  }
  std::sort(names.begin(), names.end());
  return names;
}

ConfigNode load_tree(ConfigKind kind, const std::string& name_or_path,
                     const std::vector<Override>& overrides) {
  std::string path = locate_config(kind, name_or_path);
  auto resolve = [kind](const std::string& name, const SourceLocation& where) {
    std::string parent;
    try {
      parent = locate_config(kind, name);
    } catch (const InputError& error) {
      throw InputError(where, "inherit", error.what());
    }
    if (is_hf_config_path(parent)) {
      throw InputError(where, "inherit",
                       "cannot inherit from a Hugging Face config (" + parent +
                           "); inherit from a workload YAML");
    }
    return parent;
  };
  ConfigNode root = kind == ConfigKind::kWorkload && is_hf_config_path(path)
                        ? hf_config_to_tree(load_yaml_file(path), path)
                        : load_config_with_inherit(path, resolve);
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

std::string calibration_directory() {
  if (const char* value = std::getenv("DFSIM_CALIBRATION_DIR"); value && *value) return value;
  return (fs::path(DFSIM_DATA_DIR) / ".." / "shared" / "calibration").lexically_normal().string();
}

std::string locate_config(ConfigKind kind, const std::string& name_or_path) {
  const bool workload = kind == ConfigKind::kWorkload;
  const bool json = workload && is_hf_config_path(name_or_path);
  // A bare "x.config.json" is a file here, or else one in the workload directory.
  if (json && name_or_path.find('/') == std::string::npos) {
    if (fs::is_regular_file(name_or_path)) return name_or_path;
    fs::path shipped = fs::path(config_directory(kind)) / name_or_path;
    if (fs::is_regular_file(shipped)) return shipped.string();
  }
  bool is_path =
      name_or_path.find('/') != std::string::npos || ends_with(name_or_path, ".yaml") || json;
  if (is_path) {
    if (!fs::is_regular_file(name_or_path)) {
      throw InputError(SourceLocation{name_or_path}, "", "no such file");
    }
    return name_or_path;
  }
  fs::path candidate = fs::path(config_directory(kind)) / (name_or_path + ".yaml");
  if (fs::is_regular_file(candidate)) return candidate.string();
  if (workload) {
    fs::path hf = fs::path(config_directory(kind)) / (name_or_path + ".config.json");
    if (fs::is_regular_file(hf)) return hf.string();
  }
  std::string known;
  for (const std::string& name : known_names(kind)) known += (known.empty() ? "" : ", ") + name;
  throw InputError(std::string(workload ? "unknown model '" : "unknown hardware '") + name_or_path +
                   "' (known: " + known + "; or give a path to a .yaml file" +
                   (workload ? " or a Hugging Face config.json" : "") + ")");
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

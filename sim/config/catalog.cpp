#include "sim/config/catalog.h"

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <regex>

#include "sim/config/config_reader.h"
#include "sim/workload/hf_config.h"

namespace dfsim {

namespace fs = std::filesystem;

namespace {

std::string_view prefix_of(ConfigKind kind) {
  return kind == ConfigKind::kHardware ? "hw." : "model.";
}

bool ends_with(const std::string& text, std::string_view suffix) {
  return text.size() > suffix.size() &&
         text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// Binned parts (Apple GPUs): a hardware file may hold `bins:`, a map from "<N>c" to what that
// bin changes (core count, rates, bandwidth). `<name>-<N>c` selects one; the file's own values
// are its largest bin, which `<name>-<cores>c` names too.
struct BinName {
  std::string base;  // "apple-m3-max"
  std::string bin;   // "30c"
};

std::optional<BinName> split_bin_name(const std::string& name) {
  static const std::regex kBin("(.+)-([0-9]+c)");
  std::smatch match;
  if (!std::regex_match(name, match, kBin)) return std::nullopt;
  return BinName{match[1].str(), match[2].str()};
}

// "<gpu_cores>c" of a tree, or "" when it has no integer gpu_cores.
std::string top_bin(const ConfigNode& root) {
  const ConfigNode* cores = root.find("gpu_cores");
  return cores && cores->kind == ConfigNode::Kind::kScalar ? cores->scalar + "c" : "";
}

// The bin names a hardware file offers besides its bare name (largest bin first).
std::vector<std::string> bin_names(const std::string& stem, const ConfigNode& root) {
  const ConfigNode* bins = root.find("bins");
  if (!bins) return {};
  std::vector<std::string> names;
  if (std::string top = top_bin(root); !top.empty()) names.push_back(stem + "-" + top);
  if (bins->is_map()) {
    for (const auto& [bin, node] : bins->entries) names.push_back(stem + "-" + bin);
  }
  return names;
}

// YAML configs by stem (hardware, if `with_bins`, also by bin); workloads also as Hugging Face
// configs, by file name ("mixtral-8x7b.config.json"), since a YAML of the same model may sit
// beside them.
std::vector<std::string> known_names(ConfigKind kind, bool with_bins = false) {
  std::vector<std::string> names;
  std::error_code error;
  for (const auto& entry : fs::directory_iterator(config_directory(kind), error)) {
    const std::string file = entry.path().filename().string();
    if (entry.path().extension() == ".yaml") {
      const std::string stem = entry.path().stem().string();
      names.push_back(stem);
      if (with_bins) {
        for (std::string& bin : bin_names(stem, load_yaml_file(entry.path().string()))) {
          names.push_back(std::move(bin));
        }
      }
    }
    if (kind == ConfigKind::kWorkload && is_hf_config_path(file)) names.push_back(file);
  }
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  return names;
}

// Maps merge key by key; anything else replaces.
void merge_over(ConfigNode& base, const ConfigNode& over) {
  if (!base.is_map() || !over.is_map()) {
    base = over;
    return;
  }
  for (const auto& [key, value] : over.entries) {
    if (ConfigNode* existing = base.find(key)) {
      merge_over(*existing, value);
    } else {
      base.entries.emplace_back(key, value);
    }
  }
}

// Applies bin `bin` ("" for the bare name) of a hardware tree and removes the `bins` section.
void apply_bin(ConfigNode& root, const std::string& base, const std::string& bin) {
  auto bins_it = std::find_if(root.entries.begin(), root.entries.end(),
                              [](const auto& entry) { return entry.first == "bins"; });
  if (bins_it == root.entries.end()) {
    if (bin.empty()) return;
    throw InputError("unknown hardware '" + base + "-" + bin + "': " + base +
                     " has no binned parts (known: " + base + ")");
  }
  ConfigNode bins = bins_it->second;
  root.entries.erase(bins_it);
  if (!bins.is_map()) {
    throw InputError(bins.location, "bins",
                     "expected a map from \"<N>c\" to a bin, got " + describe(bins));
  }
  static const std::regex kBinKey("[0-9]+c");
  for (const auto& [key, node] : bins.entries) {
    if (!std::regex_match(key, kBinKey)) {
      throw InputError(node.key_location, "bins." + key,
                       "a bin is named by its GPU core count, e.g. 30c");
    }
    if (!node.is_map()) {
      throw InputError(node.location, "bins." + key, "expected a map, got " + describe(node));
    }
    const ConfigNode* cores = node.find("gpu_cores");
    if (!cores || cores->scalar + "c" != key) {
      throw InputError(
          node.location, "bins." + key,
          "a bin must set gpu_cores to its own core count (" + key.substr(0, key.size() - 1) + ")");
    }
  }
  if (bin.empty()) return;
  if (bin == top_bin(root)) {
    if (ConfigNode* name = root.find("name")) name->scalar = base + "-" + bin;
    return;
  }
  const ConfigNode* chosen = bins.find(bin);
  if (!chosen) {
    std::string valid;
    for (const std::string& name : bin_names(base, [&] {
           ConfigNode copy = root;
           copy.entries.emplace_back("bins", bins);
           return copy;
         }())) {
      valid += (valid.empty() ? "" : ", ") + name;
    }
    throw InputError("unknown hardware '" + base + "-" + bin + "': " + base + " has no " +
                     bin.substr(0, bin.size() - 1) + "-core GPU bin (bins: " + valid + ")");
  }
  merge_over(root, *chosen);
  if (ConfigNode* name = root.find("name")) name->scalar = base + "-" + bin;
}

// A hardware name that is no file of its own but a bin of one: the file and the bin.
std::optional<BinName> binned_config(const std::string& name_or_path) {
  if (name_or_path.find('/') != std::string::npos || ends_with(name_or_path, ".yaml")) {
    return std::nullopt;
  }
  const fs::path dir(config_directory(ConfigKind::kHardware));
  if (fs::is_regular_file(dir / (name_or_path + ".yaml"))) return std::nullopt;
  std::optional<BinName> split = split_bin_name(name_or_path);
  if (!split || !fs::is_regular_file(dir / (split->base + ".yaml"))) return std::nullopt;
  return split;
}

ConfigNode load_tree(ConfigKind kind, const std::string& name_or_path,
                     const std::vector<Override>& overrides) {
  std::optional<BinName> bin =
      kind == ConfigKind::kHardware ? binned_config(name_or_path) : std::nullopt;
  std::string path = locate_config(kind, bin ? bin->base : name_or_path);
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
  if (kind == ConfigKind::kHardware) {
    apply_bin(root, bin ? bin->base : fs::path(path).stem().string(), bin ? bin->bin : "");
  }
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
  return std::string(DFSIM_DATA_DIR) +
         (kind == ConfigKind::kHardware ? "/hw_configs" : "/workloads");
}

std::string calibration_directory() {
  if (const char* value = std::getenv("DFSIM_CALIBRATION_DIR"); value && *value) return value;
  return std::string(DFSIM_DATA_DIR) + "/hw_configs/measured";
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
  // A binned part is its base file (the bin is applied when the tree is loaded).
  if (!workload) {
    if (std::optional<BinName> bin = binned_config(name_or_path)) {
      return (fs::path(config_directory(kind)) / (bin->base + ".yaml")).string();
    }
  }
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

ConfigNode load_config_tree(ConfigKind kind, const std::string& name_or_path,
                            const std::vector<Override>& overrides) {
  return load_tree(kind, name_or_path, overrides);
}

std::vector<std::string> config_inherit_chain(ConfigKind kind, const std::string& name_or_path) {
  std::optional<BinName> bin =
      kind == ConfigKind::kHardware ? binned_config(name_or_path) : std::nullopt;
  std::vector<std::string> chain{locate_config(kind, bin ? bin->base : name_or_path)};
  // load_config_with_inherit() has rejected cycles and deep chains for any config that loads;
  // the bound keeps a broken one from looping here.
  while (chain.size() <= 16 && !is_hf_config_path(chain.back())) {
    const ConfigNode root = load_yaml_file(chain.back());
    const ConfigNode* parent = root.is_map() ? root.find("inherit") : nullptr;
    if (!parent || parent->kind != ConfigNode::Kind::kScalar) break;
    chain.push_back(locate_config(kind, parent->scalar));
  }
  return chain;
}

HwConfig load_hw_config(const std::string& name_or_path, const std::vector<Override>& overrides) {
  return parse_hw_config(load_tree(ConfigKind::kHardware, name_or_path, overrides));
}

ModelSpec load_model_spec(const std::string& name_or_path, const std::vector<Override>& overrides) {
  return parse_model_spec(load_tree(ConfigKind::kWorkload, name_or_path, overrides));
}

std::vector<HfDefault> hf_config_defaults(const std::string& name_or_path) {
  const std::string path = locate_config(ConfigKind::kWorkload, name_or_path);
  if (!is_hf_config_path(path)) return {};
  return import_hf_config(load_yaml_file(path), path).defaults;
}

std::vector<CatalogEntry> list_configs(ConfigKind kind) {
  std::vector<CatalogEntry> entries;
  for (const std::string& name : known_names(kind, kind == ConfigKind::kHardware)) {
    std::string path = locate_config(kind, name);
    if (kind == ConfigKind::kHardware) {
      HwConfig hw = load_hw_config(name, {});
      entries.push_back({name, hw.description, path});
    } else {
      ModelSpec model = load_model_spec(path, {});
      entries.push_back({name, model.description, path});
    }
  }
  return entries;
}

}  // namespace dfsim

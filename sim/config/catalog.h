// Where configs are found. `--hw h100-sxm` names hw_configs/h100-sxm.yaml; a value containing a
// '/' or ending in .yaml is a path. Workloads may also be Hugging Face config.json files
// (anything ending in .json, see sim/workload/hf_config.h): a bare "x.config.json" is looked up
// in the current directory, then in workloads/; a name without extension falls back to
// workloads/<name>.config.json when there is no <name>.yaml. The directories default to the ones in
// the source tree (DFSIM_DATA_DIR, fixed at build time) and can be moved with DFSIM_HW_DIR /
// DFSIM_WORKLOAD_DIR.
#pragma once

#include <string>
#include <vector>

#include "sim/config/config_tree.h"
#include "sim/config/hw_config.h"
#include "sim/workload/hf_config.h"
#include "sim/workload/model_spec.h"

namespace dfsim {

enum class ConfigKind { kHardware, kWorkload };

std::string config_directory(ConfigKind kind);

// The measured results `dfsim validate` compares against: the repository's hw_configs/measured
// (under the data directory, like the configs), or $DFSIM_CALIBRATION_DIR.
std::string calibration_directory();

// Resolves a name or path to an existing file; throws InputError listing the known names.
std::string locate_config(ConfigKind kind, const std::string& name_or_path);

// A `--set` override, split at the first '=' ("hw.hbm.bandwidth=2TB/s").
struct Override {
  std::string key;    // "hw.hbm.bandwidth"
  std::string value;  // "2TB/s"
};

// Parses "key=value"; throws InputError for text without '=' or with an empty key.
Override parse_override(const std::string& text);

// The merged tree of a config (its `inherit:` chain resolved, a hardware bin applied) with the
// overrides of its prefix applied, before the typed reading and validation.
ConfigNode load_config_tree(ConfigKind kind, const std::string& name_or_path,
                            const std::vector<Override>& overrides = {});

// The files a config is made of: its own file first, then each file its `inherit:` chain names.
std::vector<std::string> config_inherit_chain(ConfigKind kind, const std::string& name_or_path);

// Loads a hardware config by name or path, applies the overrides whose key starts with "hw.",
// and validates. Overrides for other prefixes are ignored here.
HwConfig load_hw_config(const std::string& name_or_path, const std::vector<Override>& overrides);

// Same for a workload, with the "model." overrides.
ModelSpec load_model_spec(const std::string& name_or_path, const std::vector<Override>& overrides);

// The keys a Hugging Face config.json workload leaves out and the transformers defaults they took
// (see hf_config.h); empty for a YAML workload.
std::vector<HfDefault> hf_config_defaults(const std::string& name_or_path);

// Rejects overrides whose prefix is neither "hw." nor "model." (one-line InputError).
void check_override_prefixes(const std::vector<Override>& overrides);

struct CatalogEntry {
  std::string name;
  std::string description;
  std::string path;
};

// All configs of a kind, sorted by name (each parsed, so a broken file is reported).
std::vector<CatalogEntry> list_configs(ConfigKind kind);

}  // namespace dfsim

// A YAML document as a plain tree whose every node remembers the file, line and column it came
// from, so errors can point at the offending text even after `inherit:` merged several files and
// `--set` overrides replaced values. yaml-cpp is used only to parse; nothing else sees it.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "sim/common/error.h"

namespace dfsim {

struct ConfigNode {
  enum class Kind { kNull, kScalar, kMap, kSequence };

  Kind kind = Kind::kNull;
  std::string scalar;  // kScalar: the text as written
  // kScalar written in quotes: a JSON string, never a number or boolean (JSON is read as YAML,
  // and `"4096"` must not pass for the integer 4096 where a config.json needs a number).
  bool quoted = false;
  std::vector<std::pair<std::string, ConfigNode>> entries;  // kMap: in file order, keys unique
  std::vector<ConfigNode> items;                            // kSequence
  SourceLocation location;                                  // where the value starts
  SourceLocation key_location;                              // where its key starts (map entries)

  // Defined in the .cpp, where ConfigNode is complete: clang with libstdc++ rejects the implicit
  // ones, which instantiate std::pair<std::string, ConfigNode> inside this definition.
  ConfigNode();
  ConfigNode(const ConfigNode&);
  ConfigNode(ConfigNode&&) noexcept;
  ConfigNode& operator=(const ConfigNode&);
  ConfigNode& operator=(ConfigNode&&) noexcept;
  ~ConfigNode();

  bool is_map() const { return kind == Kind::kMap; }
  const ConfigNode* find(std::string_view key) const;
  ConfigNode* find(std::string_view key);
};

// What a value is, for messages of the form "expected X, got Y": "nothing", "a map", "a list"
// or the scalar in quotes.
std::string describe(const ConfigNode& node);

// Parses YAML text. `source_name` is what error locations name (a path, or "--set").
// Syntax errors and duplicate keys throw InputError at their line and column.
ConfigNode parse_yaml(std::string_view text, const std::string& source_name);

// Reads and parses a file; a missing or unreadable file is an InputError naming it.
ConfigNode load_yaml_file(const std::string& path);

// Finds the file a name in `inherit:` refers to; called with the name and where it was written.
using InheritResolver =
    std::function<std::string(const std::string& name, const SourceLocation& where)>;

// Loads a config file and resolves its `inherit: <name>` chain: the parent is loaded (recursively)
// and the child merged over it — maps merge key by key, scalars and sequences replace — and the
// `inherit` key is removed. Cycles and chains deeper than 16 are errors.
ConfigNode load_config_with_inherit(const std::string& path, const InheritResolver& resolve);

// Applies one `--set` override: `dotted_key` is a path below `root` ("hbm.bandwidth"), `value` is
// parsed as a YAML scalar or flow value and its location is reported as `where`. A missing
// intermediate map is an error (the key cannot exist); a missing leaf is created, and the typed
// reader decides whether it is a known key.
void apply_override(ConfigNode& root, std::string_view dotted_key, std::string_view value,
                    const SourceLocation& where);

}  // namespace dfsim
